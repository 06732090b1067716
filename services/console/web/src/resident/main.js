import { createApp } from 'vue'
import { createRouter, createWebHashHistory } from 'vue-router'
import Vant, { Locale } from 'vant'
import zhCN from 'vant/es/locale/lang/zh-CN'
import enUS from 'vant/es/locale/lang/en-US'
import 'vant/lib/index.css'
import App from './App.vue'
import Home from './Home.vue'
import { lang } from '../shared/i18n.js'
import { watchEffect } from 'vue'

watchEffect(() => Locale.use(lang.value === 'en' ? 'en-US' : 'zh-CN', lang.value === 'en' ? enUS : zhCN))

const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', component: Home },
    { path: '/report', component: () => import('./Report.vue') },
    { path: '/track/:code?', component: () => import('./Track.vue') },
    { path: '/q/:token', component: () => import('./Evaluate.vue') },
    { path: '/ack/:token', component: () => import('./Ack.vue') },
  ],
})

createApp(App).use(Vant).use(router).mount('#app')
