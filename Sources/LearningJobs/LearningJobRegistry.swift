import BatchEngine

/// The registry of the learning jobs, in pipeline order (interface.md).
public enum LearningJobs {
    public static let registry = JobRegistry([
        MasteryUpdate.definition,
    ])
}
