package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// CookieName is the session cookie a browser gets once it has shown the token.
const CookieName = "gome_ui"

// keepAlive is the longest an event stream stays silent, so that proxies and browsers keep it.
const keepAlive = 20 * time.Second

// maxSteerBytes bounds a steering note: a direction, not a document.
const maxSteerBytes = 4000

// Options configure a Server.
type Options struct {
	// Base is the path prefix the pages are served under, e.g. "/ui"; "" serves them at the root.
	Base string
	// CheckToken reports whether a token shown by a browser (?token=...) or a client
	// (Authorization: Bearer ...) is the server's. It must compare in constant time.
	CheckToken func(token string) bool
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// Server serves the pages. It keeps no state but its session secret: everything shown comes from
// the Source on each request.
type Server struct {
	src     Source
	base    string
	check   func(string) bool
	session string // the cookie value of a browser that showed the token
	logger  *slog.Logger
	pages   *template.Template
}

// New returns a Server over src.
func New(src Source, opts Options) (*Server, error) {
	if opts.CheckToken == nil {
		return nil, errors.New("ui: Options.CheckToken is nil: the pages show code and logs and must be behind the server's token")
	}
	base := strings.TrimRight(opts.Base, "/")
	if base != "" && !strings.HasPrefix(base, "/") {
		return nil, fmt.Errorf("ui: Options.Base %q must start with /, e.g. /ui", opts.Base)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("ui: session secret: %w", err)
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{src: src, base: base, check: opts.CheckToken, session: base64.RawURLEncoding.EncodeToString(b), logger: logger, pages: pages}, nil
}

// Handler serves every page under the base path, behind the token.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	b := s.base
	mux.Handle("GET "+b+"/assets/", http.StripPrefix(b+"/assets/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+b+"/{$}", s.runsPage)
	mux.HandleFunc("GET "+b+"/runs/{run}", s.runPage)
	mux.HandleFunc("GET "+b+"/runs/{run}/live", s.liveFragment)
	mux.HandleFunc("GET "+b+"/runs/{run}/events", s.events)
	mux.HandleFunc("GET "+b+"/runs/{run}/steps/{step}", s.stepPage)
	mux.HandleFunc("POST "+b+"/runs/{run}/{action}", s.act)
	if b != "" {
		mux.Handle("GET "+b, http.RedirectHandler(b+"/", http.StatusMovedPermanently))
	}
	return s.authorize(mux)
}

// authorize admits a browser that shows the token once in the URL (it then gets a session
// cookie and is redirected to the same URL without the token, which so leaves the address bar
// and the history), a browser with the cookie, and a client with the bearer header.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("token"); tok != "" {
			if !s.check(tok) {
				s.refuse(w, "the token in the address is wrong: use the one gome-mcp printed at start-up or the one you set in GOME_TOKEN")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: CookieName, Value: s.session, Path: s.base + "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		ok := false
		if c, err := r.Cookie(CookieName); err == nil {
			ok = subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1
		}
		if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); !ok && found && strings.EqualFold(scheme, "Bearer") {
			ok = s.check(strings.TrimSpace(tok))
		}
		if !ok {
			s.refuse(w, "this page needs the server's token: open it once as "+s.base+"/?token=TOKEN with the token gome-mcp printed at start-up (or the one in GOME_TOKEN); the browser then keeps a cookie")
			return
		}
		// A form posted from another site carries no SameSite=Strict cookie; a script of another
		// origin that holds the token still must not act, so actions check the origin too.
		if r.Method == http.MethodPost && !sameOrigin(r) {
			http.Error(w, "cross-origin request refused: use the buttons on the run page", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="gome"`)
	http.Error(w, msg, http.StatusUnauthorized)
}

// sameOrigin accepts a request without an Origin header (not sent by every browser for
// same-origin requests) or with one whose host is the request's.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	runs, err := s.src.Runs(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, "runs", map[string]any{"Base": s.base, "Runs": runs, "Title": "Gome runs"})
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	// The version comes first: the page's event stream then reports anything newer than
	// what the page shows, even a step recorded before the stream connects.
	version, err := s.src.Wait(r.Context(), r.PathValue("run"), 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.runView(r.Context(), r.PathValue("run"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := map[string]any{"Base": s.base, "Run": v, "Version": version, "Title": "Gome " + v.Run.ID}
	if id := r.URL.Query().Get("step"); id != "" {
		if st, err := s.stepView(r.Context(), v.Run.ID, id); err == nil {
			data["Step"] = st
		}
	}
	s.render(w, "run", data)
}

func (s *Server) liveFragment(w http.ResponseWriter, r *http.Request) {
	v, err := s.runView(r.Context(), r.PathValue("run"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, "live", v)
}

func (s *Server) stepPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.stepView(r.Context(), r.PathValue("run"), r.PathValue("step"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Has("fragment") {
		s.render(w, "step", st)
		return
	}
	s.render(w, "steppage", map[string]any{"Base": s.base, "Step": st, "Title": "Gome " + st.ID})
}

// events streams "change" events while the run records new steps or changes status; the page
// then fetches the live fragment. With ?since=VERSION (the version the page was rendered at) a
// change that happened before the stream connected is reported at once. It ends when the
// browser leaves.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	runID := r.PathValue("run")
	ctx := r.Context()
	version, err := s.src.Wait(ctx, runID, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported by this connection", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	fmt.Fprintf(w, "retry: 2000\nevent: version\ndata: %d\n\n", version)
	if since, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64); err == nil && since != 0 && since != version {
		fmt.Fprintf(w, "event: change\ndata: %d\n\n", version)
	}
	flusher.Flush()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, keepAlive)
		next, err := s.src.Wait(waitCtx, runID, version)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.logger.Warn("ui: wait for run", "run", runID, "err", err)
			fmt.Fprintf(w, "event: problem\ndata: %s\n\n", oneLine(err.Error()))
			flusher.Flush()
			return
		}
		if next != version {
			version = next
			fmt.Fprintf(w, "event: change\ndata: %d\n\n", version)
		} else {
			fmt.Fprint(w, ": still here\n\n")
		}
		flusher.Flush()
	}
}

// act runs a button's action. A script (fetch) gets a one-line answer; a plain form post is
// redirected back to the run page.
func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	runID := r.PathValue("run")
	ctx := r.Context()
	var err error
	var done string
	switch r.PathValue("action") {
	case "stop":
		err = s.src.Stop(ctx, runID)
		done = "stop requested: the run ends after recording its best so far"
	case "resume":
		err = s.src.Resume(ctx, runID)
		done = "resumed from its last completed step"
	case "steer":
		r.Body = http.MaxBytesReader(w, r.Body, maxSteerBytes+1000)
		text := strings.TrimSpace(r.FormValue("text"))
		switch {
		case text == "":
			http.Error(w, "steer needs a direction: write what the next gradients should consider, e.g. 'try gradient boosting'", http.StatusBadRequest)
			return
		case len(text) > maxSteerBytes:
			http.Error(w, fmt.Sprintf("the direction is %d bytes: keep it under %d", len(text), maxSteerBytes), http.StatusBadRequest)
			return
		}
		err = s.src.Steer(ctx, runID, text)
		done = "the next gradients will consider: " + text
	default:
		http.Error(w, fmt.Sprintf("unknown action %q: use stop, resume or steer", r.PathValue("action")), http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Header.Get("X-Requested-With") != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, done)
		return
	}
	http.Redirect(w, r, s.base+"/runs/"+url.PathEscape(runID), http.StatusSeeOther)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrUnsupported):
		code = http.StatusNotImplemented
	case r.Context().Err() != nil:
		return
	default:
		var ue userError
		if errors.As(err, &ue) {
			code = http.StatusConflict
		} else {
			s.logger.Error("ui: request failed", "path", r.URL.Path, "err", err)
		}
	}
	http.Error(w, err.Error(), code)
}

// userError marks a refusal the person can act on (a finished run cannot resume), as opposed to
// a fault of the server.
type userError struct{ error }

func (e userError) Unwrap() error { return e.error }

// UserError wraps err as a refusal the person can act on; the pages answer it with 409.
func UserError(err error) error { return userError{err} }

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.logger.Error("ui: render", "template", name, "err", err)
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Everything the pages use is served from here; nothing else may load or run.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	fmt.Fprint(w, b.String())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
