package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/tools"
)

// mcpPath is the streamable HTTP endpoint, mcp-go's and most clients' default.
const mcpPath = "/mcp"

// minTokenLength keeps a chosen token out of guessing range.
const minTokenLength = 16

// maxRequestBytes caps a request body: tool arguments are small, and an unbounded body is an
// easy way to exhaust the server's memory.
const maxRequestBytes = 8 << 20

// errRemote marks a listen address that would expose the server beyond this machine.
var errRemote = errors.New("address is not loopback")

// httpConfig is how `serve --http` listens and whom it admits.
type httpConfig struct {
	addr         string
	token        string
	generated    bool // the token was generated here and must be shown once
	allowRemote  bool
	allowedHosts string
	// pages, when set, are the run pages served under /ui/ beside /mcp, behind their own
	// token check (a browser shows the token once and keeps a cookie).
	pages http.Handler
	// onListen, when set, learns the bound address before requests are served.
	onListen func(bound string)
}

// resolve checks the address and settles the token, before anything else starts, so that a
// mistake fails the command at once.
func (h *httpConfig) resolve() error {
	addr, err := listenAddress(h.addr, h.allowRemote)
	if err != nil {
		return err
	}
	token, generated, err := resolveToken(h.token)
	if err != nil {
		return err
	}
	h.addr, h.token, h.generated = addr, token, generated
	return nil
}

// listenAddress normalizes --http: a bare port or ":PORT" listens on 127.0.0.1, since a server
// that runs code on this machine must not be reachable from others by accident. A non-loopback
// host needs allowRemote.
func listenAddress(addr string, allowRemote bool) (string, error) {
	addr = strings.TrimSpace(addr)
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("--http %q is not HOST:PORT: use e.g. 127.0.0.1:8765 (or :0 for any free port)", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !isLoopback(host) && !allowRemote {
		return "", fmt.Errorf("--http %s: %w: it would accept connections from other machines, which could then run code here; pass --allow-remote to do that on purpose, or listen on 127.0.0.1", addr, errRemote)
	}
	return net.JoinHostPort(host, port), nil
}

// isLoopback reports whether host (a name or an IP, brackets allowed) is this machine only.
func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// resolveToken picks the bearer token: the flag, else GOME_TOKEN, else a new random one. It
// reports whether it generated the token, which the caller then shows once.
func resolveToken(flagValue string) (token string, generated bool, err error) {
	token = flagValue
	if token == "" {
		token = os.Getenv("GOME_TOKEN")
	}
	if token != "" {
		if len(token) < minTokenLength {
			return "", false, fmt.Errorf("the bearer token (--token or GOME_TOKEN) is %d characters: use at least %d, or leave both unset to get a random one", len(token), minTokenLength)
		}
		return token, false, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generate bearer token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), true, nil
}

// requireToken admits only requests bearing the token. Both sides are hashed before the
// constant-time comparison so that neither the content nor the length of the token leaks
// through timing.
func requireToken(token string, next http.Handler) http.Handler {
	check := tokenCheck(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !check(strings.TrimSpace(got)) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="gome", resource_metadata=%q`, baseURL(r)+metadataPath+mcpPath))
			http.Error(w, "missing or wrong bearer token: send the header 'Authorization: Bearer TOKEN' with the token gome-mcp printed at start-up or the one you set in GOME_TOKEN", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenCheck reports whether a presented token is token, for the bearer header here and for the
// run pages' ?token= and cookie.
func tokenCheck(token string) func(got string) bool {
	want := sha256.Sum256([]byte(token))
	return func(got string) bool {
		sum := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
}

// allowedHosts are the Host header values the server answers to. Checking them defeats DNS
// rebinding: a web page whose name the attacker re-points at 127.0.0.1 still sends its own name
// as Host, and is refused before it can try tokens.
type allowedHosts map[string]bool

// newAllowedHosts admits loopback names, the bound host, every address of this machine when
// bound to all interfaces, and the extra names given.
func newAllowedHosts(bound string, extra string) allowedHosts {
	h := allowedHosts{"localhost": true}
	host := hostOf(bound)
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		// Bound to every interface: admit this machine's names, never 0.0.0.0 itself, which
		// some browsers route to localhost.
		if name, err := os.Hostname(); err == nil {
			h[strings.ToLower(name)] = true
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					h[p.Addr().String()] = true
				}
			}
		}
	} else {
		h[strings.ToLower(host)] = true
	}
	for _, name := range strings.Split(extra, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			h[name] = true
		}
	}
	return h
}

// hostOf is the host of HOST:PORT or of a bare host, without IPv6 brackets.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	return strings.Trim(addr, "[]")
}

func (h allowedHosts) allows(hostHeader string) bool {
	host := strings.ToLower(hostOf(hostHeader))
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback() || h[ip.String()]
	}
	return h[host]
}

func (h allowedHosts) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.allows(r.Host) {
			http.Error(w, fmt.Sprintf("Host %q is not served here: connect to the address gome-mcp listens on, or add the name with --allowed-hosts", r.Host), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newHTTPHandler wraps the MCP server in the streamable HTTP transport behind the Host check and
// the bearer token.
func newHTTPHandler(s *server.MCPServer, token string, hosts allowedHosts, logger *slog.Logger) (http.Handler, *server.StreamableHTTPServer) {
	streamable := server.NewStreamableHTTPServer(s,
		server.WithEndpointPath(mcpPath),
		server.WithStreamableHTTPLogger(logger),
		server.WithHeartbeatInterval(30*time.Second),
		// Clients that vanish without a DELETE must not leave their session state behind.
		server.WithSessionIdleTTL(time.Hour),
	)
	mux := http.NewServeMux()
	mux.Handle(mcpPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		if err := tools.StampNotificationVersion(r); err != nil {
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		streamable.ServeHTTP(w, r)
	}))
	// The protected-resource metadata (RFC 9728) is public: a client reads it to learn how to
	// authenticate before it has a token.
	outer := http.NewServeMux()
	outer.HandleFunc(metadataPath, resourceMetadata)
	outer.HandleFunc(metadataPath+mcpPath, resourceMetadata)
	outer.Handle("/", requireToken(token, mux))
	return hosts.guard(outer), streamable
}

// metadataPath is where RFC 9728 puts a protected resource's metadata; the MCP endpoint's own
// metadata is at metadataPath followed by the endpoint's path.
const metadataPath = "/.well-known/oauth-protected-resource"

// baseURL is the scheme and host the request reached (the Host header has passed the guard).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// resourceMetadata describes the MCP endpoint as an OAuth protected resource (RFC 9728): it
// takes a bearer token in the Authorization header. Gome has no authorization server: the
// token is the one gome-mcp printed at start-up or GOME_TOKEN, which a client is configured
// with.
func resourceMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"resource":                 baseURL(r) + mcpPath,
		"authorization_servers":    []string{},
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "Gome MCP server",
		"resource_documentation":   "https://github.com/gome-agent/gome#http",
	})
}

// serveHTTP serves MCP over streamable HTTP until ctx is cancelled; cfg must be resolved.
// Operational logs go to logger; a generated token is written to stderr once, and nowhere else.
func serveHTTP(ctx context.Context, s *server.MCPServer, cfg httpConfig, stderr io.Writer, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another port with --http)", cfg.addr, err)
	}
	bound := ln.Addr().String()
	hosts := newAllowedHosts(bound, cfg.allowedHosts)
	handler, streamable := newHTTPHandler(s, cfg.token, hosts, logger)
	if cfg.pages != nil {
		handler = withPages(handler, hosts.guard(cfg.pages))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: get_run may wait up to ten minutes before it answers.
	}
	if cfg.generated {
		fmt.Fprintf(stderr, "gome-mcp: HTTP clients must send this bearer token (shown only now; set GOME_TOKEN to choose your own):\n  Authorization: Bearer %s\n", cfg.token)
	}
	if !isLoopback(hostOf(bound)) {
		logger.Warn("listening beyond this machine (--allow-remote): anyone who reaches this address with the token can run code here; put TLS in front of it", "addr", bound)
	}
	if cfg.onListen != nil {
		cfg.onListen(bound)
	}
	logger.Info("serving MCP over streamable HTTP", "url", "http://"+bound+mcpPath)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	streamable.Shutdown(shutdown)
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	return nil
}
