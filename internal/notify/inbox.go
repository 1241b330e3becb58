package notify

import "sync"

// Allocation is what the core last said about a session's resources.
type Allocation string

const (
	AllocationUnknown   Allocation = ""
	AllocationSucceeded Allocation = "SUCCESSFUL_RESOURCES_ALLOCATION"
	AllocationFailed    Allocation = "FAILED_RESOURCES_ALLOCATION"
)

// Inbox keeps the latest evidence per session from accepted notifications,
// for the reconciler to weigh. It is memory only: after a restart the core
// is asked again, which is the truth anyway.
type Inbox struct {
	mu          sync.Mutex
	allocations map[string]Allocation // by Ref.Correlation()
}

// Record notes what ev says about resource allocation.
func (in *Inbox) Record(ev Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.allocations == nil {
		in.allocations = map[string]Allocation{}
	}
	key := ev.Ref.Correlation()
	for _, e := range ev.Events {
		switch Allocation(e) {
		case AllocationSucceeded, AllocationFailed:
			in.allocations[key] = Allocation(e)
		}
	}
	if ev.Terminated {
		delete(in.allocations, key)
	}
}

// Allocation returns the last allocation outcome reported for r.
func (in *Inbox) Allocation(r Ref) Allocation {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.allocations[r.Correlation()]
}

// Forget drops what is known of r, e.g. once its session is replaced.
func (in *Inbox) Forget(r Ref) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.allocations, r.Correlation())
}
