package sla

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestTargetsFrom(t *testing.T) {
	tests := map[string]struct {
		in      v1alpha1.SLATargets
		want    Targets
		wantErr string
	}{
		"nothing set takes the default window and period": {
			want: Targets{LossRatio: -1, AvailabilityPercent: -1, Window: time.Second, VerificationPeriod: 30 * time.Second},
		},
		"surgery-urllc profile": {
			in: v1alpha1.SLATargets{
				RTTP99: dur(20 * time.Millisecond), JitterP99: dur(5 * time.Millisecond),
				LossRatio: "1e-4", AvailabilityPercent: "99.99",
				Window: dur(500 * time.Millisecond), VerificationPeriod: dur(time.Minute),
			},
			want: Targets{
				RTTP99: 20 * time.Millisecond, JitterP99: 5 * time.Millisecond, LossRatio: 1e-4,
				AvailabilityPercent: 99.99, Window: 500 * time.Millisecond, VerificationPeriod: time.Minute,
			},
		},
		"decimal loss ratio": {
			in:   v1alpha1.SLATargets{LossRatio: "0.0001"},
			want: Targets{LossRatio: 1e-4, AvailabilityPercent: -1, Window: time.Second, VerificationPeriod: 30 * time.Second},
		},
		"zero loss is a target, not unset": {
			in:   v1alpha1.SLATargets{LossRatio: "0", AvailabilityPercent: "100"},
			want: Targets{LossRatio: 0, AvailabilityPercent: 100, Window: time.Second, VerificationPeriod: 30 * time.Second},
		},
		"loss ratio not a number": {
			in:      v1alpha1.SLATargets{LossRatio: "one in ten thousand"},
			wantErr: `lossRatio "one in ten thousand" is not a number`,
		},
		"loss ratio above one": {
			in:      v1alpha1.SLATargets{LossRatio: "1.5"},
			wantErr: `lossRatio "1.5" must be between 0 and 1`,
		},
		"loss ratio NaN": {
			in:      v1alpha1.SLATargets{LossRatio: "NaN"},
			wantErr: `lossRatio "NaN" must be between 0 and 1`,
		},
		"availability above 100": {
			in:      v1alpha1.SLATargets{AvailabilityPercent: "100.5"},
			wantErr: `availabilityPercent "100.5" must be between 0 and 100`,
		},
		"every problem is reported": {
			in:      v1alpha1.SLATargets{LossRatio: "x", Window: dur(-time.Second), RTTP99: dur(-1)},
			wantErr: "lossRatio \"x\" is not a number\nsla: rttP99 -1ns must not be negative\nsla: window -1s must be positive",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := TargetsFrom(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("TargetsFrom() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TargetsFrom() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TargetsFrom() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewTrackerRejects(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"negative grace": {
			cfg:     Config{Targets: urllcTargets(), Grace: -time.Second},
			wantErr: "grace -1s must not be negative",
		},
		"window too short for the grace": {
			cfg:     Config{Targets: Targets{LossRatio: -1, Window: time.Millisecond}, Grace: 2 * time.Second},
			wantErr: "window 1ms is too short for grace 2s",
		},
		"negative history bound": {
			cfg:     Config{Targets: urllcTargets(), MaxRollups: -1},
			wantErr: "history bounds must not be negative",
		},
		"invalid targets": {
			cfg:     Config{Targets: Targets{LossRatio: 2}},
			wantErr: "lossRatio 2 must be between 0 and 1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewTracker(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewTracker() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
