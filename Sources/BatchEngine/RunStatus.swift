/// The statuses of `batch.job_runs.status` and `batch.job_run_steps.status`.
public enum RunStatus: String, Sendable, Codable {
    case running, succeeded, failed, interrupted, skipped
}

/// The triggers of `batch.job_runs.trigger`.
public enum RunTrigger: String, Sendable, Codable, CaseIterable {
    case schedule, catchup, manual, backfill
}
