package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAuthFlags protects the flag combinations people get wrong and the
// clients file's format, re-read at every call so that rotation works.
func TestAuthFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "clients")
	if err := os.WriteFile(file, []byte("# rotation in progress\nmedslice:old\nmedslice:new\n\nother:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) error {
		fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
		f := authFlagsOn(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		_, _, err := f.config()
		return err
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--tls-listen", ":0"}, "--tls-listen needs --tls-cert and --tls-key"},
		{[]string{"--tls-client-ca", "ca.crt"}, "need --tls-listen"},
		{[]string{"--oauth2-client", "nosecret"}, "want clientID:clientSecret"},
		{[]string{"--oauth2-clients-file", filepath.Join(dir, "missing")}, "--oauth2-clients-file"},
		{[]string{"--oauth2-client", "a:b", "--oauth2-token-lifetime", "0s"}, "must be positive"},
		{[]string{"--oauth2-clients-file", file, "--oauth2-client", "cli:flag"}, ""},
	} {
		err := parse(tc.args...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}

	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	f := authFlagsOn(fs)
	if err := fs.Parse([]string{"--oauth2-clients-file", file, "--oauth2-client", "cli:flag"}); err != nil {
		t.Fatal(err)
	}
	ac, _, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	clients, err := ac.Clients()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(clients["medslice"], []string{"old", "new"}) || !slices.Equal(clients["cli"], []string{"flag"}) {
		t.Errorf("clients %v", clients)
	}
	if err := os.WriteFile(file, []byte("medslice:new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if clients, _ = ac.Clients(); !slices.Equal(clients["medslice"], []string{"new"}) || clients["other"] != nil {
		t.Errorf("after the file changed: clients %v", clients)
	}
	if err := os.WriteFile(file, []byte("medslice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Clients(); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("broken file: err %v, want the line named", err)
	}
}
