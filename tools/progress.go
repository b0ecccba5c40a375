package tools

import (
	"context"
	"log/slog"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

type progressKey struct{}

// withProgressToken keeps the call's progress token, if the caller sent one, so that a handler
// deep in a typed function can report progress without seeing the raw request.
func withProgressToken(ctx context.Context, req mcp.CallToolRequest) context.Context {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return ctx
	}
	return context.WithValue(ctx, progressKey{}, req.Params.Meta.ProgressToken)
}

// progress sends notifications/progress for the current call. It is best effort: a caller that
// sent no progress token gets none (the protocol says so), and a notification that cannot be
// delivered must not fail the call it describes.
type progress struct {
	ctx    context.Context
	token  mcp.ProgressToken
	logger *slog.Logger
	last   float64
}

func newProgress(ctx context.Context, logger *slog.Logger) *progress {
	token, _ := ctx.Value(progressKey{}).(mcp.ProgressToken)
	return &progress{ctx: ctx, token: token, logger: logger, last: -1}
}

// send reports done out of total with a message. Progress must grow with every notification,
// so a value that does not is nudged past the previous one.
func (p *progress) send(done, total float64, message string) {
	if p.token == nil {
		return
	}
	srv := server.ServerFromContext(p.ctx)
	if srv == nil {
		return
	}
	if done <= p.last {
		done = p.last + 0.001
	}
	p.last = done
	params := map[string]any{"progressToken": p.token, "progress": done, "message": message}
	if total > 0 {
		params["total"] = total
	}
	if err := srv.SendNotificationToClient(p.ctx, string(mcp.MethodNotificationProgress), params); err != nil {
		p.logger.Debug("progress notification not delivered", "err", err)
	}
}
