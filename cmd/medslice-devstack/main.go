// Command medslice-devstack is `make run`: the whole of medslice on this
// machine (control plane, core emulator, operator, samples) until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/testenv"
)

func main() {
	root, err := testenv.RepoRoot()
	if err != nil {
		fail(err)
	}
	var (
		bin     = flag.String("bin", filepath.Join(root, "bin"), "directory with etcd, kube-apiserver and the medslice binaries")
		state   = flag.String("state", filepath.Join(root, ".devstack"), "directory for the kubeconfig, env file and logs")
		samples = flag.Bool("samples", true, "apply config/samples")
		wait    = flag.Duration("wait", 60*time.Second, "how long to wait for the samples to be provisioned")
		demo    = flag.Bool("demo", true, "after start, measure a loaded link inside and outside a provisioned slice")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	s, err := devstack.Start(ctx, devstack.Options{Root: root, BinDir: *bin, StateDir: *state, Samples: *samples, Log: os.Stdout})
	if err != nil {
		fail(err)
	}
	defer s.Stop()
	if *samples {
		pending, err := s.WaitProvisioned(ctx, *wait)
		if err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
			return
		}
		if len(pending) > 0 {
			fmt.Printf("devstack: WARNING: not provisioned after %s: %v (see %s)\n", *wait, pending, s.Operator().LogPath)
		}
	}
	token := ""
	if *samples {
		if token, err = s.DemoToken(ctx); err != nil {
			fmt.Println("devstack:", err)
		}
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	fmt.Printf(`
medslice dev stack ready in %s
  look:      KUBECONFIG=%s kubectl get medicalslices -A   (kubectl is in bin/)
  kubeconfig %s
  emulator   %s   (GET /admin/v1/sessions)
  metrics    %s
  console    %s   (sign in as the or-3 surgery team with the token in %s)
  logs       %s/*.log
Ctrl-C stops everything.
`, time.Since(start).Round(time.Millisecond), rel(s.KubeconfigPath), s.KubeconfigPath, s.EmulatorURL, s.MetricsURL, s.ConsoleURL, rel(filepath.Join(*state, "demo-token")), rel(*state))
	if token != "" {
		fmt.Printf("  token      %s\n", token)
	}
	if *samples {
		go func() {
			took, err := s.WaitReady(ctx, 3*time.Minute)
			if err == nil {
				fmt.Printf("devstack: every sample is GO by measurement, %s after start (verification periods of 10-30s)\n", (time.Since(start)).Round(time.Second))
			} else if ctx.Err() == nil {
				fmt.Printf("devstack: WARNING: not every sample is GO after %s: %v\n", took.Round(time.Second), err)
			}
		}()
	}
	if *samples && *demo {
		// What a slice is for, in two numbers: the same probes over the
		// same loaded link, inside and outside a provisioned QoS flow.
		const load = "95 Mbps"
		prov, unprov, err := s.Contrast(ctx, demoUE, load, 5*time.Second)
		if err != nil {
			fmt.Println("devstack: demo:", err)
		} else {
			fmt.Printf(`
demo: %s of background traffic on the 100 Mbps emulated link, for 5 s:
  unprovisioned path (UE %s, best effort):           %s
  provisioned slice or-3/robotic-surgery (UE %s): %s
  (surgery target: RTT p99 <= 20ms; the load is off again)
`, load, unprov.UE, unprov, prov.UE, prov)
		}
	}
	<-ctx.Done()
	fmt.Println("\ndevstack: stopping")
}

// demoUE is the first device of the robotic-surgery sample.
const demoUE = "10.45.0.11"

func fail(err error) {
	fmt.Fprintln(os.Stderr, "devstack:", err)
	os.Exit(1)
}
