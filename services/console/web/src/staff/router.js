import { createRouter, createWebHashHistory } from 'vue-router'
import Inbox from './pages/Inbox.vue'
import Triage from './pages/Triage.vue'
import Review from './pages/Review.vue'
import Sessions from './pages/Sessions.vue'
import Ledger from './pages/Ledger.vue'
import Revisits from './pages/Revisits.vue'
import Dashboard from './pages/Dashboard.vue'
import Disclosures from './pages/Disclosures.vue'
import Visits from './pages/Visits.vue'
import Workcal from './pages/Workcal.vue'

export const routes = [
  { path: '/inbox', component: Inbox, meta: { key: 'inbox', action: 'report.read' } },
  { path: '/triage', component: Triage, meta: { key: 'triage', action: 'matter.read' } },
  { path: '/review', component: Review, meta: { key: 'review', action: 'matter.read' } },
  { path: '/sessions', component: Sessions, meta: { key: 'sessions', action: 'session.read' } },
  { path: '/ledger', component: Ledger, meta: { key: 'ledger', action: 'ledger.read' } },
  { path: '/visits', component: Visits, meta: { key: 'visits', action: 'visit.read' } },
  { path: '/revisits', component: Revisits, meta: { key: 'revisits', action: 'evaluation.read' } },
  { path: '/dashboard', component: Dashboard, meta: { key: 'dashboard', action: 'ledger.read' } },
  { path: '/disclosures', component: Disclosures, meta: { key: 'disclosures', action: 'disclosure.read', optional: true } },
  { path: '/workcal', component: Workcal, meta: { key: 'workcal', action: 'workcal.read' } },
]

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [{ path: '/', redirect: '/triage' }, ...routes],
})
