import { createApp } from 'vue'
import ElementPlus from 'element-plus'
import 'element-plus/dist/index.css'
import App from './App.vue'
import { router } from './router.js'
import './staff.css'
import { request, setSession } from '../shared/api.js'
import { t } from '../shared/i18n.js'

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

// A table wider than the screen scrolls inside its own box: that box must take the keyboard focus (arrow keys
// scroll it), so every Element Plus table's scroll box is a focusable, named region.
function focusableScrollBoxes(root) {
  for (const wrap of root.querySelectorAll?.('.el-table__body-wrapper .el-scrollbar__wrap:not([tabindex])') || []) {
    wrap.setAttribute('tabindex', '0')
    wrap.setAttribute('role', 'region')
    wrap.setAttribute('aria-label', t('table'))
  }
}
new MutationObserver(() => focusableScrollBoxes(document)).observe(document.body, { childList: true, subtree: true }) // drawers and dialogs live under body
