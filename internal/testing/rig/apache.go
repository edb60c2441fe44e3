package rig

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	apacheBin = "/usr/sbin/apache2"
	// apacheUser is the User/Group of httpd-rig.conf: the CGI runs as it.
	apacheUser         = "www-data"
	apacheReadyTimeout = 15 * time.Second
)

// ApacheOptions configures StartApache.
type ApacheOptions struct {
	// Root is served at /pggraph (PGGRAPH_ROOT, the /var/www/pggraph of
	// production): one install directory per client. Required. It and
	// every directory above it must be searchable by www-data.
	Root string
	// DBDParams is mod_dbd's libpq keyword/value string for pggraph_users
	// (PGGRAPH_DBD), e.g. "host=127.0.0.1 port=5432 dbname=pggraph_users
	// user=pggraph_web"; the password should come from PGPassFile.
	// Required.
	DBDParams string
	// PGPassFile, when set, is the pgpass file with pggraph_web's
	// password: Apache gets it as PGPASSFILE in its environment (for
	// mod_dbd's libpq, as /etc/apache2/envvars would set it), and the CGI
	// through pggraph.conf's SetEnv (PGGRAPH_PGPASSFILE). libpq ignores a
	// pgpass file that others may read: own it by www-data, mode 0600.
	PGPassFile string
	// CGIEnv are more environment variables for the CGI, as SetEnv lines
	// (e.g. PGGRAPH_WEB_USER). Values must fit on one line.
	CGIEnv map[string]string
	// LogLevel is Apache's LogLevel, e.g. "warn authn_dbd:debug"; ""
	// means "warn".
	LogLevel string
	// SiteConf is the site configuration to run; "" means this
	// repository's deploy/apache/pggraph.conf.
	SiteConf string
	// BasicOnly defines PGGRAPH_BASIC_ONLY: Basic auth alone, no login
	// form. Otherwise browsers log in with the form and get a session,
	// whose keys the rig makes up (Dir/session.conf).
	BasicOnly bool
	// SessionMaxAge is PGGRAPH_SESSION_MAX_AGE, rounded up to seconds;
	// 0 keeps pggraph.conf's default.
	SessionMaxAge time.Duration
	// TLS serves HTTPS (URL https://…) with a self-signed certificate for
	// 127.0.0.1, which Apache.TLS trusts.
	TLS bool
	// FastCGI, when set, is the pggraph.cgi program to serve the pages
	// as pggraph.conf's default has it: the rig runs it as www-data with
	// -serve on a socket in Dir (as deploy/systemd/pggraph-web.service
	// does), before Apache and stopped after it, and defines
	// PGGRAPH_FASTCGI; its stderr is FastCGILog. Empty defines
	// PGGRAPH_CGI: Apache runs index.cgi as a CGI, a process per request.
	FastCGI string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Apache is one Apache httpd run by the rig from deploy/apache: the
// standalone httpd-rig.conf, which includes the production pggraph.conf,
// on 127.0.0.1 at a free port, in the foreground as a child of the test
// process (stopped by PID; it dies with the test process), its children
// running as www-data. Its logs stay in Dir.
type Apache struct {
	Port int
	URL  string // "http://127.0.0.1:<Port>", or https:// with TLS
	// TLS is a client configuration that trusts the server's certificate;
	// nil without ApacheOptions.TLS.
	TLS      *tls.Config
	Dir      string // pid file, logs, run/ (cgid socket), pggraph-web/ (the FastCGI socket), extra.conf
	Conf     string // the httpd-rig.conf started
	SiteConf string // the pggraph.conf it includes
	ErrorLog string // Apache's error log: also the CGI's stderr
	// FastCGILog is the FastCGI server's stderr (ApacheOptions.FastCGI),
	// "" without one.
	FastCGILog string
	// Socket is the FastCGI server's, "" without one.
	Socket    string
	AccessLog string // "%h %u %t \"%r\" %>s %b %D" lines
	StartLog  string // Apache's own stdout and stderr (errors before ErrorLog opens)
	PID       int    // the parent process, 0 when stopped

	env     []string
	logf    func(format string, args ...any)
	program string // the FastCGI server's, "" without one

	mu   sync.Mutex
	proc *process
	fcgi *process // the FastCGI server
}

// DeployDir returns this repository's deploy directory, found from the
// rig's source file: tests run inside the source tree.
func DeployDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("find deploy/: no caller information")
	}
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "deploy")
	if _, err := os.Stat(filepath.Join(d, "apache", "pggraph.conf")); err != nil {
		return "", fmt.Errorf("find deploy/: %w", err)
	}
	return filepath.Clean(d), nil
}

// StartApache starts Apache from deploy/apache/httpd-rig.conf with dir as
// its private directory (created if missing; it must be searchable by
// www-data, which rules out t.TempDir()), on a free 127.0.0.1 port, and
// waits until it answers HTTP, for at most 15 s. It must run as root and
// needs Debian's apache2 and libaprutil1-dbd-pgsql. The caller stops it
// with Stop and removes dir. On failure the error holds the tail of the
// error log.
func StartApache(ctx context.Context, dir string, opt ApacheOptions) (*Apache, error) {
	if err := requireRoot(); err != nil {
		return nil, err
	}
	if opt.Root == "" || opt.DBDParams == "" {
		return nil, errors.New("start apache: ApacheOptions.Root and DBDParams are required")
	}
	deploy, err := DeployDir()
	if err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	a := &Apache{
		Dir:       dir,
		Conf:      filepath.Join(deploy, "apache", "httpd-rig.conf"),
		SiteConf:  opt.SiteConf,
		ErrorLog:  filepath.Join(dir, "error.log"),
		AccessLog: filepath.Join(dir, "access.log"),
		StartLog:  filepath.Join(dir, "apache2.out"),
		logf:      newProgress(opt.Log).logf,
	}
	if a.SiteConf == "" {
		a.SiteConf = filepath.Join(deploy, "apache", "pggraph.conf")
	}
	if opt.FastCGI != "" {
		a.program = opt.FastCGI
		// Its own directory, www-data's, as systemd's RuntimeDirectory.
		a.Socket = filepath.Join(dir, "pggraph-web", "web.sock")
		a.FastCGILog = filepath.Join(dir, "pggraph-web.log")
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	cred, err := credential(apacheUser)
	if err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	for _, d := range []string{opt.Root, dir} {
		if err := searchable(d, cred); err != nil {
			return nil, fmt.Errorf("start apache: %w", err)
		}
	}
	if a.Socket != "" {
		sd := filepath.Dir(a.Socket)
		if err := os.MkdirAll(sd, 0o755); err != nil {
			return nil, fmt.Errorf("start apache: %w", err)
		}
		if err := os.Chown(sd, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("start apache: %w", err)
		}
	}
	if err := writeExtra(filepath.Join(dir, "extra.conf"), opt); err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	if err := writeDefines(filepath.Join(dir, "defines.conf"), opt, a.Socket); err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	if err := writeSessionKeys(filepath.Join(dir, "session.conf")); err != nil {
		return nil, fmt.Errorf("start apache: %w", err)
	}
	scheme := "http"
	if opt.TLS {
		if a.TLS, err = writeCertificate(dir); err != nil {
			return nil, fmt.Errorf("start apache: %w", err)
		}
		scheme = "https"
	}
	a.env = []string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"LANG=C",
		"RIG_APACHE_DIR=" + dir,
		"RIG_WEB_ROOT=" + opt.Root,
		"RIG_DBD_PARAMS=" + opt.DBDParams,
		"RIG_PGPASSFILE=" + opt.PGPassFile,
		"RIG_SITE_CONF=" + a.SiteConf,
	}
	if opt.PGPassFile != "" {
		a.env = append(a.env, "PGPASSFILE="+opt.PGPassFile)
	}
	for range bindAttempts {
		if a.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("start apache: %w", err)
		}
		a.URL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, a.Port)
		err = a.start(ctx)
		if !errors.Is(err, errPortInUse) {
			break
		}
		a.logf("apache: port %d taken, trying another", a.Port)
	}
	if err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

// writeExtra writes the rig's extra.conf: the log level and the CGI's
// extra environment.
func writeExtra(path string, opt ApacheOptions) error {
	level := opt.LogLevel
	if level == "" {
		level = "warn"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by internal/testing/rig.StartApache.\nLogLevel %s\n", level)
	keys := make([]string, 0, len(opt.CGIEnv))
	for k := range opt.CGIEnv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		fmt.Fprintf(&b, "<Directory %q>\n", opt.Root)
		for _, k := range keys {
			v := opt.CGIEnv[k]
			if strings.ContainsAny(k+v, "\"\\\r\n") || strings.ContainsAny(k, " \t") || k == "" {
				return fmt.Errorf("CGIEnv %q: name or value holds a quote, backslash, line break or (name) a space", k)
			}
			fmt.Fprintf(&b, "    SetEnv %s \"%s\"\n", k, v)
		}
		b.WriteString("</Directory>\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeDefines writes the rig's defines.conf, read before pggraph.conf:
// the login mode, the session lifetime and TLS.
func writeDefines(path string, opt ApacheOptions, socket string) error {
	var b strings.Builder
	b.WriteString("# Written by internal/testing/rig.StartApache.\n")
	if opt.BasicOnly {
		b.WriteString("Define PGGRAPH_BASIC_ONLY\n")
	}
	if opt.SessionMaxAge > 0 {
		fmt.Fprintf(&b, "Define PGGRAPH_SESSION_MAX_AGE %d\n", int((opt.SessionMaxAge+time.Second-1)/time.Second))
	}
	if opt.TLS {
		b.WriteString("Define RIG_TLS\n")
	}
	if socket != "" {
		fmt.Fprintf(&b, "Define PGGRAPH_FASTCGI %s\n", socket)
	} else {
		b.WriteString("Define PGGRAPH_CGI\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeSessionKeys writes the two session secrets pggraph.conf includes,
// new random ones, readable by root only (Apache reads its configuration
// as root).
func writeSessionKeys(path string) error {
	conf := fmt.Sprintf("# Written by internal/testing/rig.StartApache.\nDefine PGGRAPH_SESSION_KEY %s\nDefine PGGRAPH_SITE_KEY %s\n", rand.Text(), rand.Text())
	return os.WriteFile(path, []byte(conf), 0o600)
}

// writeCertificate writes dir/tls.crt and dir/tls.key, a new self-signed
// certificate for 127.0.0.1, and returns a client configuration that
// trusts it.
func writeCertificate(dir string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pggraph rig"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tls key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}, nil
}

// Client returns an HTTP client for the server: it trusts the rig's
// certificate with TLS, follows no redirects and gives up after timeout.
func (a *Apache) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{TLSClientConfig: a.TLS},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// start runs apache2 -DFOREGROUND on a.Port and waits until it answers.
func (a *Apache) start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil && !a.proc.exited() {
		return nil
	}
	what := fmt.Sprintf("start apache on 127.0.0.1:%d", a.Port)
	if err := a.startFastCGI(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	out, err := openLog(a.StartLog)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	offset := fileSize(a.ErrorLog)
	outOffset := fileSize(a.StartLog)
	_ = os.Remove(filepath.Join(a.Dir, "httpd.pid"))
	cmd := exec.Command(apacheBin, "-f", a.Conf, "-DFOREGROUND")
	cmd.Dir = a.Dir
	cmd.Env = append(slices.Clone(a.env), "RIG_APACHE_PORT="+strconv.Itoa(a.Port))
	cmd.Stdout, cmd.Stderr = out, out
	// SIGTERM stops Apache at once, children and CGIs included.
	proc, err := spawn(cmd, nil, syscall.SIGTERM)
	out.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	a.proc, a.PID = proc, proc.pid
	if err := a.waitReady(ctx, offset, outOffset); err != nil {
		a.kill()
		a.proc, a.PID = nil, 0
		if errors.Is(err, errPortInUse) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return fmt.Errorf("%s: %w%s%s", what, err, tail(a.StartLog, 10), tail(a.ErrorLog, 20))
	}
	a.logf("apache: ready on %s (pid %d)", a.URL, a.PID)
	return nil
}

// waitReady polls until the pid file names our process and an HTTP
// request gets an answer, the process exits, or the deadline passes.
func (a *Apache) waitReady(ctx context.Context, logOffset, outOffset int64) error {
	ctx, cancel := context.WithTimeout(ctx, apacheReadyTimeout)
	defer cancel()
	client := a.Client(2 * time.Second)
	want := strconv.Itoa(a.proc.pid)
	var last error
	for {
		if a.proc.exited() {
			logs := logSince(a.ErrorLog, logOffset) + logSince(a.StartLog, outOffset)
			if strings.Contains(logs, "Address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("apache exited: %v", a.proc.err)
		}
		pid, _ := os.ReadFile(filepath.Join(a.Dir, "httpd.pid"))
		if strings.TrimSpace(string(pid)) == want {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/", nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				return nil
			}
			last = err
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("not answering after %v: %w (last: %v)", apacheReadyTimeout, err, last)
		}
	}
}

// kill stops Apache: SIGTERM to the parent, which ends its children, and
// SIGKILL after 10 s; then SIGKILL to any process it had started that is
// still alive (a CGI outliving it). a.mu must be held.
func (a *Apache) kill() error {
	var err error
	if a.proc != nil {
		kids := descendants(a.proc.pid)
		err = a.proc.stop([]stopStep{{syscall.SIGTERM, 10 * time.Second}},
			func(m string) { a.logf("apache: %s", m) })
		for _, k := range kids {
			if alive(k) {
				_ = syscall.Kill(k, syscall.SIGKILL)
			}
		}
	}
	if a.fcgi != nil {
		err = errors.Join(err, a.fcgi.stop([]stopStep{{syscall.SIGTERM, 10 * time.Second}},
			func(m string) { a.logf("pggraph-web: %s", m) }))
		a.fcgi = nil
	}
	return err
}

// startFastCGI starts the FastCGI server, when there is one, as www-data,
// and waits until its socket accepts connections.
func (a *Apache) startFastCGI(ctx context.Context) error {
	if a.program == "" || (a.fcgi != nil && !a.fcgi.exited()) {
		return nil
	}
	out, err := openLog(a.FastCGILog)
	if err != nil {
		return fmt.Errorf("start pggraph-web: %w", err)
	}
	defer out.Close()
	cred, err := credential(apacheUser)
	if err != nil {
		return fmt.Errorf("start pggraph-web: %w", err)
	}
	cmd := exec.Command(a.program, "-serve", a.Socket)
	cmd.Dir = a.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "HOME=" + a.Dir}
	cmd.Stdout, cmd.Stderr = out, out
	proc, err := spawn(cmd, cred, syscall.SIGTERM)
	if err != nil {
		return fmt.Errorf("start pggraph-web: %w", err)
	}
	a.fcgi = proc
	ctx, cancel := context.WithTimeout(ctx, apacheReadyTimeout)
	defer cancel()
	for {
		if proc.exited() {
			a.fcgi = nil
			return fmt.Errorf("start pggraph-web: it exited: %v%s", proc.err, tail(a.FastCGILog, 10))
		}
		if c, err := net.Dial("unix", a.Socket); err == nil {
			c.Close()
			a.logf("pggraph-web: ready on %s (pid %d)", a.Socket, proc.pid)
			return nil
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			a.kill()
			return fmt.Errorf("start pggraph-web: no socket at %s: %w%s", a.Socket, err, tail(a.FastCGILog, 10))
		}
	}
}

// Stop stops Apache (SIGTERM to the parent, which ends its children;
// SIGKILL after 10 s, and to whatever it started that outlives it) and
// waits for it. The
// logs stay. Stopping a stopped server does nothing.
func (a *Apache) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc == nil && a.fcgi == nil {
		return nil
	}
	if err := a.kill(); err != nil {
		return fmt.Errorf("stop apache on %s: %w", a.URL, err)
	}
	a.proc, a.PID = nil, 0
	a.logf("apache: stopped")
	return nil
}

// Restart stops Apache and starts it again on the same port.
func (a *Apache) Restart(ctx context.Context) error {
	if err := a.Stop(); err != nil {
		return err
	}
	return a.start(ctx)
}

// Logs returns the tails of the error log and the start log, for test
// failure messages.
func (a *Apache) Logs() string {
	logs := tail(a.StartLog, 10) + tail(a.ErrorLog, 40)
	if a.FastCGILog != "" {
		logs += tail(a.FastCGILog, 20)
	}
	return logs
}
