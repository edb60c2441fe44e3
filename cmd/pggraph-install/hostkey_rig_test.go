package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// runProgram runs one of the built programs with HOME=home and no ssh-agent, and
// returns its stdout, the last line of its stderr and its exit code.
func runProgram(t *testing.T, home, name string, args ...string) (stdout, last string, code int) {
	t.Helper()
	if name == "pggraph-install" {
		args = append(hostless(), args...)
	}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	return out.String(), lines[len(lines)-1], code
}

// offered is how a message lists the host keys of an sshd of the rig: the
// type and the fingerprint ssh-keygen -lf prints of each host key file,
// ed25519 first; and the unhashed known_hosts line of its ed25519 key.
func offered(t *testing.T, s *rig.SSHD) (fps []string, line string) {
	t.Helper()
	for _, key := range s.HostKeys { // ed25519, ecdsa, rsa
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ssh-keygen", "-lf", key+".pub").Output()
		if err != nil {
			t.Fatalf("ssh-keygen -lf %s.pub: %v", key, err)
		}
		f, l := strings.Fields(string(pub)), strings.Fields(string(out))
		fps = append(fps, f[0]+" "+l[1])
		if line == "" {
			line = fmt.Sprintf("[127.0.0.1]:%d %s %s", s.Port, f[0], f[1])
		}
	}
	if !strings.HasPrefix(fps[0], "ssh-ed25519 SHA256:") || !strings.HasPrefix(fps[2], "ssh-rsa SHA256:") {
		t.Fatalf("rig host keys: %v", fps)
	}
	return fps, line
}

// unknownHost is the message of an unknown host, as the tunnel words it.
func unknownHost(addr, known string, fps []string, line string) string {
	return fmt.Sprintf("host key of %s is unknown: it offers %s; if the ssh-ed25519 one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it), add this line to %s: %s",
		addr, strings.Join(fps, ", "), known, line)
}

// trustHint ends the installer's refusal of an unknown host.
const trustHint = "; or let pggraph-install add it: answer yes (with -answers: -yes)"

// writeAnswers writes an answers file for client prefix in dir, logging
// in with key to the SSH server 127.0.0.1 described further by ssh (its
// port, …), and returns its path.
func writeAnswers(t *testing.T, r *rig.Rig, root, prefix, dir, key, ssh string) string {
	t.Helper()
	text := fmt.Sprintf("[install]\ndirectory = %s\nwww_path = pggraph/%s\ntitle = %s\n[local]\nprefix = %s\nport = %d\nhost = 127.0.0.1\npassword = %s\n[remote]\nuser = %s\npassword = %s\n[ssh]\nuser = %s\nkeyfile = %s\nserver = 127.0.0.1\n%s",
		dir, prefix, prefix, prefix, r.Central.Port, centralPassword, r.PG.MonitorUser, r.PG.MonitorPassword, r.User, key, ssh)
	path := filepath.Join(root, prefix+"-"+filepath.Base(dir)+".ini")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// appendLine appends one line to a file.
func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHostKeyRefusals: with -answers and no -yes, a twin tunnel's unknown
// bastion, then its unknown db host reached through the bastion, are
// refused with every host key type the server offers (the fingerprints
// ssh-keygen -lf prints of the rig's host key files, ed25519 first) and
// the known_hosts line to add; appending that line lets the next run go
// on, until the install succeeds. A changed key is refused naming the
// file and line. pggraph-collect says the same words for each verdict.
func TestHostKeyRefusals(t *testing.T) {
	r := env(t)
	h := home(t)
	known := filepath.Join(h, ".ssh", "known_hosts")
	root := t.TempDir()
	dir := filepath.Join(root, "twinkeys")
	answers := writeAnswers(t, r, root, "twinkeys", dir, r.Keys.ED25519,
		fmt.Sprintf("port = %d\ntwin_tunnel = yes\nsecond_server = %s\nbind_port = %d\nbind_address = 127.0.0.1\n", r.Bastion.Port, r.DBHost.Addr, r.PG.Port))
	t.Cleanup(func() { removeClient(t, r, "twinkeys") })
	install := []string{"-answers", answers, "-cgi", filepath.Join(root, "_main", "pggraph.cgi")}

	bastionFPs, bastionLine := offered(t, r.Bastion)
	dbFPs, dbLine := offered(t, r.DBHost)
	// The verdicts, in the tunnel's words, and the known_hosts each is
	// given on.
	verdicts := []struct {
		name, known, want string
		shown             []string // what the question shows, each on a line of its own
	}{
		{name: "unknown bastion", known: "",
			want:  unknownHost(r.Bastion.Addr, known, bastionFPs, bastionLine),
			shown: append(slices.Clone(bastionFPs), bastionLine)},
		{name: "unknown db host via bastion", known: bastionLine + "\n",
			want:  unknownHost(r.DBHost.Addr, known, dbFPs, dbLine),
			shown: append(slices.Clone(dbFPs), dbLine)},
		{name: "changed bastion key", known: fmt.Sprintf("[127.0.0.1]:%d %s\n", r.Bastion.Port, strings.SplitN(dbLine, " ", 2)[1]),
			want: fmt.Sprintf("host key of %s changed: it offers %s but %s:1 holds %s: refused (the server was reinstalled, or someone is in between: check, then fix that line)",
				r.Bastion.Addr, bastionFPs[0], known, dbFPs[0])},
	}

	// pggraph-install, step by step from an empty known_hosts.
	for _, v := range verdicts[:2] {
		stdout, last, code := runProgram(t, h, "pggraph-install", install...)
		if want := "pggraph-install: host key: " + v.want + trustHint; code != 1 || last != want {
			t.Fatalf("%s: exit %d\n got %s\nwant %s", v.name, code, last, want)
		}
		for _, s := range v.shown {
			if !strings.Contains(stdout, "\n  "+s+"\n") {
				t.Errorf("%s: the question does not show %q:\n%s", v.name, s, stdout)
			}
		}
		_, line, _ := strings.Cut(v.want, "add this line to "+known+": ")
		appendLine(t, known, line)
	}
	saved, err := os.ReadFile(known)
	if err != nil {
		t.Fatal(err)
	}
	if want := bastionLine + "\n" + dbLine + "\n"; string(saved) != want {
		t.Fatalf("known_hosts:\n%s\nwant\n%s", saved, want)
	}
	changed := verdicts[2]
	os.WriteFile(known, []byte(changed.known), 0o600)
	if _, last, code := runProgram(t, h, "pggraph-install", install...); code != 1 || last != "pggraph-install: host key: "+changed.want {
		t.Errorf("%s: exit %d\n got %s\nwant pggraph-install: host key: %s", changed.name, code, last, changed.want)
	}
	os.WriteFile(known, saved, 0o600)
	if stdout, last, code := runProgram(t, h, "pggraph-install", install...); code != 0 {
		t.Fatalf("install with both lines added: exit %d: %s\n%s", code, last, stdout)
	}

	// pggraph-collect on the installed client: the same words.
	for _, v := range verdicts {
		t.Run(v.name, func(t *testing.T) {
			os.WriteFile(known, []byte(v.known), 0o600)
			_, last, code := runProgram(t, h, "pggraph-collect", "-t", dir)
			if code != 1 || !strings.HasPrefix(last, "pggraph-collect: twinkeys: tunnel: ") || !strings.HasSuffix(last, ": "+v.want) {
				t.Errorf("exit %d\n got %s\nwant pggraph-collect: twinkeys: tunnel: …: %s", code, last, v.want)
			}
		})
	}
	os.WriteFile(known, saved, 0o600)
	if _, last, code := runProgram(t, h, "pggraph-collect", "-t", dir); code != 0 {
		t.Errorf("pggraph-collect -t with both lines: exit %d: %s", code, last)
	}
}

// TestKeyfileRefusals: a key file the collector cannot use is refused by
// pggraph-install (exit 2, naming the answer) with the words
// pggraph-collect uses for it, without an ssh-agent.
func TestKeyfileRefusals(t *testing.T) {
	r := env(t)
	h := home(t)
	root := t.TempDir()
	tests := []struct {
		name, key, want string
	}{
		{"dsa pem", r.Keys.DSA, "ssh keyfile " + r.Keys.DSA + ": DSA keys are refused by OpenSSH since 7.0: create an ed25519 key (ssh-keygen -t ed25519) and authorize it on the server"},
		{"dsa openssh format", r.Keys.DSAOpenSSH, "ssh keyfile " + r.Keys.DSAOpenSSH + ": DSA keys are refused by OpenSSH since 7.0: create an ed25519 key (ssh-keygen -t ed25519) and authorize it on the server"},
		{"passphrase", r.Keys.Protected, "ssh keyfile " + r.Keys.Protected + ": key is protected by a passphrase: load it into ssh-agent (ssh-add) and set SSH_AUTH_SOCK, or use a key without one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(tt.name, " ", "-"))
			answers := writeAnswers(t, r, root, "keyfiles", dir, tt.key, fmt.Sprintf("port = %d\n", r.DBHost.Port))
			_, last, code := runProgram(t, h, "pggraph-install", "-answers", answers)
			if want := fmt.Sprintf("pggraph-install: ask: config %s: [ssh] keyfile = %q: %s", answers, tt.key, tt.want); code != 2 || last != want {
				t.Errorf("pggraph-install: exit %d\n got %s\nwant %s", code, last, want)
			}

			// The same key in a client's config.ini, with its host key on
			// file: pggraph-collect refuses it at the tunnel.
			ini := clientConfig(t, r, root, tt.key)
			_, last, code = runProgram(t, h, "pggraph-collect", "-t", ini)
			if code != 1 || !strings.HasPrefix(last, "pggraph-collect: keyfiles: tunnel: ") || !strings.HasSuffix(last, ": "+tt.want) {
				t.Errorf("pggraph-collect: exit %d\n got %s\nwant pggraph-collect: keyfiles: tunnel: …: %s", code, last, tt.want)
			}
		})
	}
}

// clientConfig writes a direct-mode config.ini for client "keyfiles" with key
// as the key file, trusting the rig's known_hosts, and returns its path.
func clientConfig(t *testing.T, r *rig.Rig, root, key string) string {
	t.Helper()
	text := fmt.Sprintf("[install]\ndirectory = %s\nwww_path = pggraph/keyfiles\ntitle = KF\n[local]\nprefix = keyfiles\nport = %d\nhost = 127.0.0.1\npassword = %s\n[remote]\nuser = %s\n[ssh]\nuser = %s\nkeyfile = %s\nserver = 127.0.0.1\nport = %d\nbind_port = %d\nbind_address = 127.0.0.1\nknown_hosts = %s\n",
		root, r.Central.Port, centralPassword, r.PG.MonitorUser, r.User, key, r.DBHost.Port, r.PG.Port, r.KnownHosts)
	path := filepath.Join(t.TempDir(), "config.ini")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
