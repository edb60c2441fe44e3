package tunnel

import (
	"context"
	"crypto"
	"crypto/dsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Fixed public keys and their fingerprints as ssh-keygen -lf prints them.
const (
	edKey    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJiT9VnYoiN3uket2KArh8cBgG/qpJ8y/5P6TYrmDaa"
	edFP     = "SHA256:iZReT33HNGjbovJWmWjRmutJshBas26aPo5O1tOJQOo"
	ecKey    = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBH8tdpR8EN6Xv4fB4kdV7ZCN+BmwhoFULiqla952e6tR3zA1EnzWGzcMKiUKdfPxaNp6Lmtigtws9NvC4TMMFcE="
	ecFP     = "SHA256:FlsqSLPwc7Jsv7SFUMLdvael+1MJkILH+DH7KwiUJ28"
	rsaKey   = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDQdOGegy8e3hr7Ok4ZCkUOEJzpRehYiQE3S48gjxas7Lplcf+Hb1dLZyFlaGhNflMamA7ovALuiZCBChBP78xURoIvwCTbkBpuOFSvMFsKU9MRR+yPyBgj/lDEAqCAN1mL/ad1GZUt5hI6TYAs6d2XvPfSJY1wpepbMMPXLvJx4Q=="
	rsaFP    = "SHA256:RzdS6F6WDt2KC4/jZDX1YcWqi6TVQSaOFbuiWI4vKzg"
	otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILKhoZJSHe+/hImDgxeSTkhhG52YzzLT0YUvVKVfVvN+"
	otherFP  = "SHA256:10J5vKY3BH7GB1XEMus34BPbFYGX5AXr34TFEa2RPl8"
)

func parsePub(t *testing.T, line string) ssh.PublicKey {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestHostKeyErrorText: each verdict's message, in one line and over
// several, and the known_hosts line an unknown host's message shows.
func TestHostKeyErrorText(t *testing.T) {
	ed, ec, rk, other := parsePub(t, edKey), parsePub(t, ecKey), parsePub(t, rsaKey), parsePub(t, otherKey)
	tests := []struct {
		name      string
		err       HostKeyError
		is        error
		want      string // Error()
		wantLines string // Text()
		wantLine  string // Line()
	}{
		{
			name: "unknown, three types",
			err:  HostKeyError{Host: "127.0.0.1:2222", KnownHosts: "/h/known_hosts", Keys: []ssh.PublicKey{ed, ec, rk}},
			is:   ErrUnknownHost,
			want: "host key of 127.0.0.1:2222 is unknown: it offers ssh-ed25519 " + edFP + ", ecdsa-sha2-nistp256 " + ecFP + ", ssh-rsa " + rsaFP +
				"; if the ssh-ed25519 one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it), add this line to /h/known_hosts: [127.0.0.1]:2222 " + edKey,
			wantLines: "host key of 127.0.0.1:2222 is unknown: it offers\n  ssh-ed25519 " + edFP + "\n  ecdsa-sha2-nistp256 " + ecFP + "\n  ssh-rsa " + rsaFP +
				"\nif the ssh-ed25519 one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it), add this line to /h/known_hosts:\n  [127.0.0.1]:2222 " + edKey,
			wantLine: "[127.0.0.1]:2222 " + edKey,
		},
		{
			name: "unknown, ecdsa only, port 22",
			err:  HostKeyError{Host: "db.example:22", KnownHosts: "/h/kh", Keys: []ssh.PublicKey{ec}},
			is:   ErrUnknownHost,
			want: "host key of db.example:22 is unknown: it offers ecdsa-sha2-nistp256 " + ecFP +
				"; if the ecdsa-sha2-nistp256 one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub on it), add this line to /h/kh: db.example " + ecKey,
			wantLines: "host key of db.example:22 is unknown: it offers\n  ecdsa-sha2-nistp256 " + ecFP +
				"\nif the ecdsa-sha2-nistp256 one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub on it), add this line to /h/kh:\n  db.example " + ecKey,
			wantLine: "db.example " + ecKey,
		},
		{
			name: "unknown, rsa only",
			err:  HostKeyError{Host: "db.example:22", KnownHosts: "/h/kh", Keys: []ssh.PublicKey{rk}},
			is:   ErrUnknownHost,
			want: "host key of db.example:22 is unknown: it offers ssh-rsa " + rsaFP +
				"; if the ssh-rsa one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_rsa_key.pub on it), add this line to /h/kh: db.example " + rsaKey,
			wantLines: "host key of db.example:22 is unknown: it offers\n  ssh-rsa " + rsaFP +
				"\nif the ssh-rsa one is the server's (ssh-keygen -lf /etc/ssh/ssh_host_rsa_key.pub on it), add this line to /h/kh:\n  db.example " + rsaKey,
			wantLine: "db.example " + rsaKey,
		},
		{
			name: "changed",
			err: HostKeyError{Host: "127.0.0.1:2222", KnownHosts: "/h/known_hosts", Keys: []ssh.PublicKey{ed},
				Want: []knownhosts.KnownKey{{Key: other, Filename: "/h/known_hosts", Line: 3}}},
			is: ErrHostKeyChanged,
			want: "host key of 127.0.0.1:2222 changed: it offers ssh-ed25519 " + edFP + " but /h/known_hosts:3 holds ssh-ed25519 " + otherFP +
				": refused (the server was reinstalled, or someone is in between: check, then fix that line)",
			wantLines: "host key of 127.0.0.1:2222 changed: it offers\n  ssh-ed25519 " + edFP + "\nbut /h/known_hosts:3 holds\n  ssh-ed25519 " + otherFP +
				": refused (the server was reinstalled, or someone is in between: check, then fix that line)",
			wantLine: "[127.0.0.1]:2222 " + edKey,
		},
		{
			name: "changed, two lines on file",
			err: HostKeyError{Host: "h:22", KnownHosts: "/kh", Keys: []ssh.PublicKey{ed},
				Want: []knownhosts.KnownKey{{Key: other, Filename: "/kh", Line: 1}, {Key: ec, Filename: "/kh", Line: 2}}},
			is: ErrHostKeyChanged,
			want: "host key of h:22 changed: it offers ssh-ed25519 " + edFP + " but /kh:1 holds ssh-ed25519 " + otherFP + ", /kh:2 holds ecdsa-sha2-nistp256 " + ecFP +
				": refused (the server was reinstalled, or someone is in between: check, then fix that line)",
			wantLines: "host key of h:22 changed: it offers\n  ssh-ed25519 " + edFP + "\nbut /kh:1 holds\n  ssh-ed25519 " + otherFP + "\n/kh:2 holds\n  ecdsa-sha2-nistp256 " + ecFP +
				": refused (the server was reinstalled, or someone is in between: check, then fix that line)",
			wantLine: "h " + edKey,
		},
		{
			name: "revoked",
			err: HostKeyError{Host: "h:22", KnownHosts: "/kh", Keys: []ssh.PublicKey{ed}, Revoked: true,
				Want: []knownhosts.KnownKey{{Key: ed, Filename: "/kh", Line: 7}}},
			is:        ErrHostKeyChanged,
			want:      "host key of h:22 is marked @revoked at /kh:7: refused; it offers ssh-ed25519 " + edFP,
			wantLines: "host key of h:22 is marked @revoked at /kh:7: refused\nit offers\n  ssh-ed25519 " + edFP,
			wantLine:  "h " + edKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &tt.err
			if got := e.Error(); got != tt.want {
				t.Errorf("Error():\n got %q\nwant %q", got, tt.want)
			}
			if got := e.Text(); got != tt.wantLines {
				t.Errorf("Text():\n got %q\nwant %q", got, tt.wantLines)
			}
			if got := e.Line(); got != tt.wantLine {
				t.Errorf("Line() = %q, want %q", got, tt.wantLine)
			}
			for _, sentinel := range []error{ErrUnknownHost, ErrHostKeyChanged} {
				if got := errors.Is(e, sentinel); got != (sentinel == tt.is) {
					t.Errorf("errors.Is(%v) = %v", sentinel, got)
				}
			}
		})
	}
}

// TestUsedKeyType: the key types pggraph uses, for host keys and key files
// alike.
func TestUsedKeyType(t *testing.T) {
	var dk dsa.PrivateKey
	if err := dsa.GenerateParameters(&dk.Parameters, rand.Reader, dsa.L1024N160); err != nil {
		t.Fatal(err)
	}
	if err := dsa.GenerateKey(&dk, rand.Reader); err != nil {
		t.Fatal(err)
	}
	dsaPub, err := ssh.NewPublicKey(&dk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  ssh.PublicKey
		want string // "" = used
	}{
		{"ed25519", parsePub(t, edKey), ""},
		{"ecdsa", parsePub(t, ecKey), ""},
		{"rsa", parsePub(t, rsaKey), ""},
		{"dsa", dsaPub, "key type ssh-dss is not used: create an ed25519 key (ssh-keygen -t ed25519) and authorize it on the server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := usedKeyType(tt.key)
			if got := errString(err); got != tt.want {
				t.Errorf("usedKeyType = %q, want %q", got, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestAlgorithmsFor: what is asked of a server for a key type on file.
func TestAlgorithmsFor(t *testing.T) {
	tests := []struct {
		keyType string
		want    []string
	}{
		{ssh.KeyAlgoED25519, []string{"ssh-ed25519"}},
		{ssh.KeyAlgoECDSA384, []string{"ecdsa-sha2-nistp384"}},
		{ssh.KeyAlgoRSA, []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}},
	}
	for _, tt := range tests {
		t.Run(tt.keyType, func(t *testing.T) {
			if got := algorithmsFor(tt.keyType); !slices.Equal(got, tt.want) {
				t.Errorf("algorithmsFor(%s) = %v, want %v", tt.keyType, got, tt.want)
			}
		})
	}
}

// newRSA is a small RSA host key (fast to make; only its type matters).
func newRSA(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestHostKeysFetch fetches every host key of an in-process server, in
// pggraph's order whatever the server's.
func TestHostKeysFetch(t *testing.T) {
	tests := []struct {
		name  string
		keys  []crypto.Signer
		order []int // indexes of keys, in the order expected
	}{
		{name: "ed25519, ecdsa and rsa, server lists rsa first", keys: []crypto.Signer{newRSA(t), newECDSA(t), newEd25519(t)}, order: []int{2, 1, 0}},
		{name: "ecdsa only", keys: []crypto.Signer{newECDSA(t)}, order: []int{0}},
		{name: "rsa and ed25519", keys: []crypto.Signer{newEd25519(t), newRSA(t)}, order: []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, serverOptions{hostKeys: tt.keys})
			var d net.Dialer
			got, err := HostKeys(t.Context(), srv.Addr, d.DialContext)
			if err != nil {
				t.Fatalf("HostKeys: %v", err)
			}
			var want []string
			for _, i := range tt.order {
				want = append(want, Fingerprint(srv.HostKeys[i].PublicKey()))
			}
			var fps []string
			for _, k := range got {
				fps = append(fps, Fingerprint(k))
			}
			if !slices.Equal(fps, want) {
				t.Errorf("HostKeys = %v, want %v", fps, want)
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		addr := closedPort(t)
		var d net.Dialer
		_, err := HostKeys(t.Context(), addr, d.DialContext)
		if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "fetch host keys of "+addr+": ") {
			t.Fatalf("err = %v, want fetch host keys of %s: … connection refused", err, addr)
		}
	})
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCheckHostKey: the verdict on a server that prefers ECDSA and also has
// an ed25519 key, for each state of known_hosts; an unknown host's error
// lists both keys, ed25519 first, and is the error Open gives.
func TestCheckHostKey(t *testing.T) {
	key := writeKey(t, "")
	ec, ed := newECDSA(t), newEd25519(t)
	srv := newTestServer(t, serverOptions{hostKeys: []crypto.Signer{ec, ed}, authorized: []ssh.PublicKey{key.Public}})
	ecPub, edPub := srv.HostKeys[0].PublicKey(), srv.HostKeys[1].PublicKey()
	other := parsePub(t, otherKey)
	line := func(k ssh.PublicKey) string {
		return knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, k) + "\n"
	}

	tests := []struct {
		name     string
		file     string // known_hosts content; "-" = no file
		want     error  // nil: known
		wantKeys []ssh.PublicKey
		wantLine int // the line named in Want
	}{
		{name: "ed25519 on file", file: line(edPub)},
		{name: "ecdsa on file", file: line(ecPub)},
		{name: "no file", file: "-", want: ErrUnknownHost, wantKeys: []ssh.PublicKey{edPub, ecPub}},
		{name: "other hosts only", file: "[127.0.0.1]:1 " + otherKey + "\n", want: ErrUnknownHost, wantKeys: []ssh.PublicKey{edPub, ecPub}},
		{name: "changed", file: "# pggraph\n" + line(other), want: ErrHostKeyChanged, wantKeys: []ssh.PublicKey{edPub}, wantLine: 2},
		{name: "revoked", file: line(edPub) + "@revoked " + line(edPub), want: ErrHostKeyChanged, wantKeys: []ssh.PublicKey{edPub}, wantLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if tt.file != "-" {
				if err := os.WriteFile(kh, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var d net.Dialer
			err := CheckHostKey(t.Context(), kh, srv.Addr, d.DialContext)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckHostKey: %v", err)
				}
				return
			}
			var he *HostKeyError
			if !errors.As(err, &he) || !errors.Is(err, tt.want) {
				t.Fatalf("CheckHostKey = %v, want a *HostKeyError matching %v", err, tt.want)
			}
			if he.Host != srv.Addr || he.KnownHosts != kh {
				t.Errorf("Host %q KnownHosts %q, want %q %q", he.Host, he.KnownHosts, srv.Addr, kh)
			}
			var got, want []string
			for _, k := range he.Keys {
				got = append(got, Fingerprint(k))
			}
			for _, k := range tt.wantKeys {
				want = append(want, Fingerprint(k))
			}
			if !slices.Equal(got, want) {
				t.Errorf("Keys = %v, want %v", got, want)
			}
			if tt.wantLine != 0 && (len(he.Want) == 0 || he.Want[0].Line != tt.wantLine || he.Want[0].Filename != kh) {
				t.Errorf("Want = %+v, want %s:%d", he.Want, kh, tt.wantLine)
			}
			if tt.file == "-" {
				return // Open needs the file
			}
			// The collector's tunnel gives the same verdict, word for word.
			tun, oerr := Open(t.Context(), Config{Hops: []string{srv.Addr}, Target: "127.0.0.1:1", User: "cmd",
				Keyfile: key.Path, KnownHosts: kh, Timeout: 5 * time.Second})
			if oerr == nil {
				tun.Close()
				t.Fatal("Open succeeded")
			}
			if want := srv.Addr + ": ssh handshake: " + he.Error(); !strings.HasSuffix(oerr.Error(), want) {
				t.Errorf("Open's verdict differs:\n Open:         %v\n CheckHostKey: %v", oerr, he)
			}
		})
	}
	t.Run("not an ssh server", func(t *testing.T) {
		addr := echoServer(t)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var d net.Dialer
		err := CheckHostKey(ctx, filepath.Join(t.TempDir(), "kh"), addr, d.DialContext)
		var he *HostKeyError
		if err == nil || errors.As(err, &he) || !strings.HasPrefix(err.Error(), "check host key of "+addr+": ") {
			t.Fatalf("err = %v", err)
		}
	})
}
