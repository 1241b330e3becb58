package main

import (
	"fmt"
	"time"

	"github.com/medslice/medslice/internal/emulator"
)

// qosMonitoringPeriod is --qos-monitoring-period: unset, each session's
// own period; 0, no QoS monitoring reports; otherwise this period for
// every session that asks for periodic reports.
type qosMonitoringPeriod struct {
	set bool
	d   time.Duration
}

func (p *qosMonitoringPeriod) String() string {
	if p == nil || !p.set {
		return ""
	}
	return p.d.String()
}

func (p *qosMonitoringPeriod) Set(v string) error {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return fmt.Errorf("want a duration such as \"1s\", or 0 for no reports: %w", err)
	case d < 0:
		return fmt.Errorf("must not be negative, got %s", d)
	case d > 0 && d < emulator.QoSMonitoringTick:
		return fmt.Errorf("must be 0 or at least %s (reports are sent on a %s tick), got %s", emulator.QoSMonitoringTick, emulator.QoSMonitoringTick, d)
	}
	p.set, p.d = true, d
	return nil
}

// config is Config.QoSMonitoringPeriod.
func (p *qosMonitoringPeriod) config() time.Duration {
	switch {
	case !p.set:
		return 0 // as each session asks
	case p.d == 0:
		return -1 // none
	default:
		return p.d
	}
}

// describe says what the flag makes of the period, for the start-up log.
func (p *qosMonitoringPeriod) describe() string {
	switch c := p.config(); {
	case c == 0:
		return "as each session asks (default " + emulator.DefaultQoSMonitoringPeriod.String() + ")"
	case c < 0:
		return "none"
	default:
		return c.String()
	}
}
