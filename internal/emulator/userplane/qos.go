package userplane

// Priority levels order the scheduler's queues, lowest value first, as
// TS 23.501 §5.7.3.3 orders QoS flows: "the lowest Priority Level value
// corresponds to the highest priority". Levels run 1..127 (TS 29.571
// 5QiPriorityLevel); the best-effort queue comes after every level.
const (
	// MinPriorityLevel and MaxPriorityLevel bound TS 29.571 5QiPriorityLevel.
	MinPriorityLevel = 1
	MaxPriorityLevel = 127
	// BestEffort is the queue of packets that match no provisioned flow:
	// served only when no provisioned flow has a packet waiting.
	BestEffort = MaxPriorityLevel + 1
	// UnknownFiveQILevel is the level of a flow whose 5QI the emulator does
	// not know (not standardized, or not derivable from the request): the
	// least of the standardized ones, 5QI 9's, so that a provisioned flow
	// still goes ahead of best effort. The emulator's own choice.
	UnknownFiveQILevel = 90

	numLevels = BestEffort + 1
)

// defaultPriorityLevels is the "Default Priority Level" column of TS 23.501
// Table 5.7.4-1 (standardized 5QI to QoS characteristics mapping), Rel-17.
var defaultPriorityLevels = map[int]int{
	// GBR.
	1: 20, 2: 40, 3: 30, 4: 50, 65: 7, 66: 20, 67: 15, 71: 56, 72: 56, 73: 56, 74: 56, 76: 56,
	// Non-GBR.
	5: 10, 6: 60, 7: 70, 8: 80, 9: 90, 10: 90, 69: 5, 70: 55, 79: 65, 80: 68,
	// Delay-critical GBR.
	82: 19, 83: 22, 84: 24, 85: 21, 86: 18, 87: 25, 88: 25, 89: 25, 90: 25,
}

// DefaultPriorityLevel is a standardized 5QI's default priority level
// (TS 23.501 Table 5.7.4-1); ok is false for any other 5QI.
func DefaultPriorityLevel(fiveQI int) (level int, ok bool) {
	level, ok = defaultPriorityLevels[fiveQI]
	return level, ok
}

// levelFor is the scheduler level of a flow with this 5QI.
func levelFor(fiveQI int) int {
	if l, ok := DefaultPriorityLevel(fiveQI); ok {
		return l
	}
	return UnknownFiveQILevel
}
