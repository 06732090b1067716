import { createApp } from 'vue'
import ElementPlus from 'element-plus'
import 'element-plus/dist/index.css'
import App from './App.vue'
import { router } from './router.js'
import './staff.css'
import { request, setSession } from '../shared/api.js'

// Production login: the identity provider (or a login gateway) redirects back to /#access_token=<JWT>.
// The token is taken out of the address bar at once and checked by the console before it is kept.
const handoff = /access_token=([^&]+)/.exec(location.hash)
if (handoff) {
  history.replaceState(null, '', '/#/')
  const token = decodeURIComponent(handoff[1])
  request('/auth/whoami', { auth: false, headers: { Authorization: `Bearer ${token}` } })
    .then((who) => setSession({ ...who, token }))
    .catch(() => setSession(null))
}

createApp(App).use(ElementPlus).use(router).mount('#app')
