// Reload a page's data when the community changes or a live hint arrives (debounced).
import { onMounted, watch } from 'vue'
import { ElMessage } from 'element-plus'
import { state } from './store.js'

export function useReload(load, { delay = 600 } = {}) {
  let timer = null
  const run = async () => {
    try {
      await load()
    } catch (e) {
      ElMessage.error(e.message)
    }
  }
  onMounted(run)
  watch(() => state.community, run)
  watch(() => state.tick, () => {
    clearTimeout(timer)
    timer = setTimeout(run, delay)
  })
  return run
}
