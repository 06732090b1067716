// Builds the two pages into ../static (committed), so running the platform needs no Node.
import { resolve } from 'node:path'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const here = import.meta.dirname

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir: resolve(here, '../static'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      input: { index: resolve(here, 'index.html'), m: resolve(here, 'm.html') },
    },
  },
})
