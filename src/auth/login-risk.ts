import type { RiskEvaluation } from '../core/auth-event.ts'
import type { LockoutState } from '../core/lockout-policy.ts'

/**
 * A login's risk evaluation from what the service knows at the time: whether the identifier exists, how
 * many failures preceded it, and whether the client identified itself. Pure and deterministic.
 */
export function evaluateLoginRisk(input: { userExists: boolean; lockout: LockoutState; userAgent: string | null }): RiskEvaluation {
  const signals: string[] = []
  let score = 0
  if (!input.userExists) {
    signals.push('unknown_identifier')
    score += 30
  }
  if (input.lockout.failedLoginAttempts >= 3) {
    signals.push('repeated_failures')
    score += Math.min(40, input.lockout.failedLoginAttempts * 5)
  }
  if (input.lockout.accountLockedUntil !== null) {
    signals.push('recently_locked')
    score += 20
  }
  if (input.userAgent === null) {
    signals.push('missing_user_agent')
    score += 10
  }
  return { score: Math.min(100, score), signals }
}
