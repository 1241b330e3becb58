package userplane

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// waker wakes a link's scheduler goroutine at a deadline with microsecond
// resolution. Go timers cannot: when the process is idle the runtime sleeps
// in epoll_wait, whose timeout is in whole milliseconds, so a timer can fire
// up to a millisecond late, which would dominate every delivery. A
// timerfd(2) is a kernel high-resolution timer without slack; its expiry
// makes the fd readable, which wakes the runtime's epoll_wait at once, and
// the goroutine waits for it in the netpoller like on any socket, so no
// thread is held. Readers re-arm it directly (under the link's lock), which
// costs one system call and does not wake the scheduler early.
type waker struct {
	file   *os.File // the timerfd, read through the netpoller
	fd     int
	offset int64 // CLOCK_MONOTONIC minus the link clock, ns
	spec   unix.ItimerSpec
	buf    [8]byte
}

func newWaker(now func() int64) (*waker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	// The link clock is Go's monotonic clock, which is CLOCK_MONOTONIC
	// shifted. The offset is read to within the time of a system call
	// (the tightest of a few tries), which the busy-wait before each
	// delivery absorbs; a wake-up a little early is re-armed.
	var offset, best int64 = 0, neverNs
	for range 5 {
		var ts unix.Timespec
		before := now()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("clock: %w", err)
		}
		after := now()
		if after-before < best {
			best, offset = after-before, ts.Nano()-(before+after)/2
		}
	}
	w := &waker{fd: fd, offset: offset}
	w.file = os.NewFile(uintptr(fd), "userplane-timerfd")
	return w, nil
}

// arm sets the next wake-up to at on the link clock (neverNs: none); a time
// already past wakes at once. Callers serialise it (the link's lock). It
// always sets the timer, even to the time it was set to: that expiry may
// have been consumed already.
func (w *waker) arm(at int64) {
	w.spec = unix.ItimerSpec{}
	if at != neverNs {
		// A zero it_value disarms, so a time at or before the clock's
		// origin becomes 1 ns, long past.
		w.spec.Value = unix.NsecToTimespec(max(at+w.offset, 1))
	}
	_ = unix.TimerfdSettime(w.fd, unix.TFD_TIMER_ABSTIME, &w.spec, nil)
}

// wait blocks until the timer expires; false once the waker is closed.
// Another error (none is expected of a timerfd) counts as a wake-up: the
// scheduler re-evaluates and arms again, rather than stopping the link.
func (w *waker) wait() bool {
	_, err := w.file.Read(w.buf[:])
	return !errors.Is(err, os.ErrClosed)
}

// close makes wait return false.
func (w *waker) close() { _ = w.file.Close() }
