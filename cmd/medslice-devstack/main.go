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
  logs       %s/*.log
Ctrl-C stops everything.
`, time.Since(start).Round(time.Millisecond), rel(s.KubeconfigPath), s.KubeconfigPath, s.EmulatorURL, s.MetricsURL, rel(*state))
	<-ctx.Done()
	fmt.Println("\ndevstack: stopping")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "devstack:", err)
	os.Exit(1)
}
