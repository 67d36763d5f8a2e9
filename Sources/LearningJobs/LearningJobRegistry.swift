import BatchEngine

/// The registry of the learning jobs and the nightly pipeline's order
/// (interface.md, "Jobs and their dependencies").
public enum LearningJobs {
    public static let registry = JobRegistry(
        [
            SessionClose.definition,
            MasteryUpdate.definition,
            LearningImpact.definition,
            ImportanceIndex.definition,
            SessionAnalytics.definition,
            UsageStats.definition,
            Cleanup.definition,
            MasteryDecay.definition,
        ],
        pipeline: [
            SessionClose.name, MasteryUpdate.name, LearningImpact.name, ImportanceIndex.name,
            SessionAnalytics.name, UsageStats.name, Cleanup.name,
        ])
}
