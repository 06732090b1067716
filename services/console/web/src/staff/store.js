// What every staff page shares: the chosen community, the live-event tick and the role's permissions.
import { reactive } from 'vue'
import { session } from '../shared/api.js'

export const state = reactive({ community: '', tick: 0, lastHint: null, features: { disclosures: false } })

// Mirrors services/runtime/authz.py MATRIX to hide buttons the services would refuse anyway.
const EVERYONE = ['county_operator', 'party_org', 'property_company', 'owners_committee', 'resident_rep',
  'partner_unit', 'grid_worker', 'department']
const MATRIX = {
  'report.read': ['county_operator', 'party_org', 'grid_worker', 'property_company'],
  'report.reveal': ['party_org', 'grid_worker'],
  'matter.read': EVERYONE,
  'matter.regrade': ['county_operator', 'party_org'],
  'matter.merge': ['county_operator', 'party_org'],
  'session.read': EVERYONE,
  'session.manage': ['county_operator', 'party_org'],
  'ledger.read': EVERYONE,
  'ledger.update': ['party_org', 'property_company', 'partner_unit', 'department', 'owners_committee'],
  'ledger.close': ['party_org'],
  'evaluation.read': ['county_operator', 'party_org', 'grid_worker'],
  'evaluation.record': ['party_org', 'grid_worker', 'resident_rep'],
  'link.issue': ['party_org', 'grid_worker'],
  'disclosure.read': EVERYONE,
  'disclosure.publish': ['party_org'],
  'visit.read': ['county_operator', 'party_org', 'grid_worker'],
  'visit.manage': ['county_operator', 'party_org'],
  'visit.record': ['party_org', 'grid_worker'],
  'report.create': EVERYONE,
  'report.import': ['county_operator', 'party_org', 'grid_worker'],
  'ledger.assign_support': ['party_org'],
  'vote.manage': ['party_org'],
  'ballot.record': ['party_org', 'grid_worker'],
  'workcal.read': EVERYONE,
  'workcal.manage': ['county_operator'],
}

export function can(action) {
  return (MATRIX[action] || []).includes(session.role)
}

export function scope() {
  return state.community ? { community: state.community } : {}
}
