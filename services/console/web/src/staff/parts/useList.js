// A server-side paged list with search filters and an XLSX export of the same filters.
import { ref } from 'vue'
import { ElMessage, ElMessageBox } from 'element-plus'
import { api, download } from '../../shared/api.js'
import { scope } from '../store.js'
import { useReload } from '../live.js'

export function useList(service, path, filters, { exportPath, filename, fixed = () => ({}), exportFixed = () => ({}), after } = {}) {
  const blank = JSON.parse(JSON.stringify(filters))
  const page = ref({ items: [], total: 0 })
  const pageNo = ref(1)
  const pageSize = ref(20)
  const exporting = ref(false)

  function params() {
    const { dates, ...rest } = filters
    const [since, until] = dates || []
    return { ...scope(), ...rest, since, until, ...fixed() }
  }
  const reload = useReload(async () => {
    page.value = await api(service, path, { params: { ...params(), limit: pageSize.value, offset: (pageNo.value - 1) * pageSize.value } })
    if (after) await after(page.value)
  })
  const search = () => {
    pageNo.value = 1
    return reload()
  }
  const reset = () => {
    Object.assign(filters, JSON.parse(JSON.stringify(blank)))
    return search()
  }
  const toPage = (n) => {
    pageNo.value = n
    return reload()
  }
  const toSize = (n) => {
    pageSize.value = n
    return search()
  }
  async function exportXlsx() {
    exporting.value = true
    try {
      await download(service, exportPath, { ...params(), ...exportFixed() }, filename())
    } catch (e) {
      ElMessage.error(e.message)
    } finally {
      exporting.value = false
    }
  }
  return { page, pageNo, pageSize, exporting, reload, search, reset, toPage, toSize, exportXlsx }
}

// An irreversible step asks first; resolves true only when the person confirms.
export async function confirmStep(message, title, confirmText) {
  try {
    await ElMessageBox.confirm(message, title, { type: 'warning', confirmButtonText: confirmText, distinguishCancelAndClose: true })
    return true
  } catch {
    return false
  }
}
