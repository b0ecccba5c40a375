package tools

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
)

// Subscriptions: a client that subscribes to a run's resource (gome://runs/{run_id} or any
// resource under it) gets notifications/resources/updated for that URI whenever the run records
// a step or changes status, until it unsubscribes, leaves, or the run ends.

// subscriptionWait is how long one watch waits before it looks again; the engine's wait
// returns at once on news.
const subscriptionWait = 5 * time.Minute

type subscriptions struct {
	d       Deps
	srv     *server.MCPServer
	base    context.Context
	mu      sync.Mutex
	watches map[string]*watch // by session id and URI
}

type watch struct{ cancel context.CancelFunc }

func newSubscriptions(d Deps) *subscriptions {
	return &subscriptions{d: d, base: context.Background(), watches: map[string]*watch{}}
}

// hooks returns the server hooks that start and stop watches.
func (s *subscriptions) hooks() *server.Hooks {
	h := &server.Hooks{}
	h.AddAfterSubscribe(func(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		if cs := server.ClientSessionFromContext(ctx); cs != nil {
			s.watch(cs.SessionID(), req.Params.URI)
		}
	})
	h.AddAfterUnsubscribe(func(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		if cs := server.ClientSessionFromContext(ctx); cs != nil {
			s.stop(cs.SessionID() + "\x00" + req.Params.URI)
		}
	})
	h.AddOnUnregisterSession(func(_ context.Context, cs server.ClientSession) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for key, w := range s.watches {
			if strings.HasPrefix(key, cs.SessionID()+"\x00") {
				w.cancel()
				delete(s.watches, key)
			}
		}
	})
	return h
}

// runOf returns the run id of a run's resource URI, "" for any other URI.
func runOf(uri string) string {
	rest, ok := strings.CutPrefix(uri, "gome://runs/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

func (s *subscriptions) watch(session, uri string) {
	runID := runOf(uri)
	if runID == "" {
		return
	}
	key := session + "\x00" + uri
	ctx, cancel := context.WithCancel(s.base)
	w := &watch{cancel: cancel}
	s.mu.Lock()
	if old, ok := s.watches[key]; ok {
		old.cancel()
	}
	s.watches[key] = w
	s.mu.Unlock()
	go func() {
		defer s.forget(key, w)
		log := s.d.logger()
		for ctx.Err() == nil {
			changed, err := s.d.Engine.WaitForChange(ctx, runID, subscriptionWait, nil)
			if err != nil {
				if ctx.Err() == nil {
					log.Debug("subscription ends", "uri", uri, "err", err)
				}
				return
			}
			v, err := s.d.Engine.ViewRun(ctx, runID, engine.Page{Limit: 1})
			if err != nil {
				return
			}
			if changed {
				if err := s.srv.SendNotificationToSpecificClient(session, string(mcp.MethodNotificationResourceUpdated), map[string]any{"uri": uri}); err != nil {
					log.Debug("resource update not delivered", "uri", uri, "err", err)
					return
				}
			}
			if v.Ended {
				return
			}
		}
	}()
}

func (s *subscriptions) stop(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.watches[key]; ok {
		w.cancel()
		delete(s.watches, key)
	}
}

// forget drops a watch that ended by itself, unless a newer one has taken its key.
func (s *subscriptions) forget(key string, w *watch) {
	w.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watches[key] == w {
		delete(s.watches, key)
	}
}
