import { createApp } from 'vue'
import { createRouter, createWebHashHistory } from 'vue-router'
import Vant, { Locale } from 'vant'
import zhCN from 'vant/es/locale/lang/zh-CN'
import enUS from 'vant/es/locale/lang/en-US'
import 'vant/lib/index.css'
import App from './App.vue'
import Home from './Home.vue'
import Report from './Report.vue'
import Track from './Track.vue'
import Evaluate from './Evaluate.vue'
import Ack from './Ack.vue'
import { lang } from '../shared/i18n.js'
import { watchEffect } from 'vue'

watchEffect(() => Locale.use(lang.value === 'en' ? 'en-US' : 'zh-CN', lang.value === 'en' ? enUS : zhCN))

const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', component: Home },
    { path: '/report', component: Report },
    { path: '/track/:code?', component: Track },
    { path: '/q/:token', component: Evaluate },
    { path: '/ack/:token', component: Ack },
  ],
})

createApp(App).use(Vant).use(router).mount('#app')
