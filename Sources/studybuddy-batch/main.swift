// The `studybuddy-batch` executable: all behaviour lives in StudyBuddyCLI.
import StudyBuddyCLI

await StudyBuddyCommand.runAndExit()
