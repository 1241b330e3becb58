//go:build !linux

package userplane

import (
	"sync"
	"time"
)

// waker wakes a link's scheduler goroutine at a deadline. Elsewhere than
// Linux it is a runtime timer, whose resolution is the platform's netpoller
// timeout; the busy-wait before each delivery covers part of it.
type waker struct {
	now   func() int64
	timer *time.Timer
	once  sync.Once
	done  chan struct{}
}

func newWaker(now func() int64) (*waker, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waker{now: now, timer: t, done: make(chan struct{})}, nil
}

func (w *waker) arm(at int64) {
	if at == neverNs {
		w.timer.Stop()
		return
	}
	w.timer.Reset(time.Duration(max(at-w.now(), 0)))
}

func (w *waker) wait() bool {
	select {
	case <-w.timer.C:
		return true
	case <-w.done:
		return false
	}
}

func (w *waker) close() { w.once.Do(func() { close(w.done) }) }
