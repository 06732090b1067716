import { createRouter, createWebHashHistory } from 'vue-router'

// Pages load when first opened: the first visit fetches only the shell and the page it lands on.

export const routes = [
  { path: '/inbox', component: () => import('./pages/Inbox.vue'), meta: { key: 'inbox', action: 'report.read' } },
  { path: '/triage', component: () => import('./pages/Triage.vue'), meta: { key: 'triage', action: 'matter.read' } },
  { path: '/review', component: () => import('./pages/Review.vue'), meta: { key: 'review', action: 'matter.read' } },
  { path: '/sessions', component: () => import('./pages/Sessions.vue'), meta: { key: 'sessions', action: 'session.read' } },
  { path: '/foresight', component: () => import('./pages/Foresight.vue'), meta: { key: 'foresight', action: 'session.read' } },
  { path: '/halls', component: () => import('./pages/Halls.vue'), meta: { key: 'halls', action: 'session.read' } },
  { path: '/ledger', component: () => import('./pages/Ledger.vue'), meta: { key: 'ledger', action: 'ledger.read' } },
  { path: '/entry', component: () => import('./pages/Entry.vue'), meta: { key: 'entry', action: 'report.read' } },
  { path: '/visits', component: () => import('./pages/Visits.vue'), meta: { key: 'visits', action: 'visit.read' } },
  { path: '/revisits', component: () => import('./pages/Revisits.vue'), meta: { key: 'revisits', action: 'evaluation.read' } },
  // Owners' votes (业主共同决定, feedback's /v1/owner-votes), not WeChat votes (a way to evaluate a revisit).
  { path: '/owner-votes', component: () => import('./pages/Votes.vue'), meta: { key: 'votes', action: 'evaluation.read' } },
  { path: '/dashboard', component: () => import('./pages/Dashboard.vue'), meta: { key: 'dashboard', action: 'ledger.read' } },
  { path: '/disclosures', component: () => import('./pages/Disclosures.vue'), meta: { key: 'disclosures', action: 'disclosure.read', optional: true } },
  { path: '/workcal', component: () => import('./pages/Workcal.vue'), meta: { key: 'workcal', action: 'workcal.read' } },
]

export const router = createRouter({
  history: createWebHashHistory(),
  // /votes was the owners' votes page's first address: old bookmarks still land there.
  routes: [{ path: '/', redirect: '/triage' }, { path: '/votes', redirect: '/owner-votes' }, ...routes],
})
