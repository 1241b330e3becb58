//go:build !unix

package stamp

import "time"

// cpuTime is not measured on this platform; the benchmark then omits it.
func cpuTime() time.Duration { return 0 }
