package main

import (
	"flag"
	"io"
	"testing"
	"time"
)

// TestQoSMonitoringPeriodFlag protects --qos-monitoring-period: unset means
// each session's period, 0 means no reports, a duration imposes itself, and
// what the reporter cannot honour is refused.
func TestQoSMonitoringPeriodFlag(t *testing.T) {
	for name, tc := range map[string]struct {
		args    []string
		want    time.Duration
		wantErr bool
	}{
		"unset: as each session asks": {want: 0},
		"0: none":                     {args: []string{"--qos-monitoring-period", "0"}, want: -1},
		"imposed":                     {args: []string{"--qos-monitoring-period", "2s"}, want: 2 * time.Second},
		"sub-second":                  {args: []string{"--qos-monitoring-period", "500ms"}, want: 500 * time.Millisecond},
		"below the tick":              {args: []string{"--qos-monitoring-period", "10ms"}, wantErr: true},
		"negative":                    {args: []string{"--qos-monitoring-period", "-1s"}, wantErr: true},
		"not a duration":              {args: []string{"--qos-monitoring-period", "1"}, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var p qosMonitoringPeriod
			fs.Var(&p, "qos-monitoring-period", "")
			err := fs.Parse(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parse %v: error %v, want error %v", tc.args, err, tc.wantErr)
			}
			if err == nil && p.config() != tc.want {
				t.Errorf("Config.QoSMonitoringPeriod = %v, want %v", p.config(), tc.want)
			}
		})
	}
}
