// Builds the two pages into ../static (committed), so running the platform needs no Node.
// Every text asset also gets a brotli (.br) and a gzip (.gz) copy, served by the console to clients that accept
// them (services/console/app.py): compressing once at build time costs nothing per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const here = import.meta.dirname
const outDir = resolve(here, '../static')

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

// Pre-compressed copies of the built text files (only where compression actually saves bytes).
function precompress() {
  return {
    name: 'hall-precompress',
    apply: 'build',
    closeBundle() {
      for (const path of files(outDir).filter((p) => /\.(js|css|html|svg|json)$/.test(p))) {
        const raw = readFileSync(path)
        if (raw.length < 512) continue
        const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
        const gz = gzipSync(raw, { level: 9 })
        if (br.length < raw.length) writeFileSync(`${path}.br`, br)
        if (gz.length < raw.length) writeFileSync(`${path}.gz`, gz)
      }
    },
  }
}

export default defineConfig({
  plugins: [vue(), precompress()],
  base: '/',
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      input: { index: resolve(here, 'index.html'), m: resolve(here, 'm.html') },
      output: {
        // Libraries in chunks of their own: cached across releases of the pages, and ECharts loaded only by
        // the dashboard (its page is a lazy route).
        manualChunks(id) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
          if (id.includes('node_modules/element-plus') || id.includes('node_modules/@element-plus')) return 'element-plus'
          if (id.includes('node_modules/vant')) return 'vant'
          if (/node_modules\/(@vue|vue|vue-router)\//.test(id)) return 'vue'
        },
      },
    },
  },
})
