package tools

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// StampNotificationVersion gives a 2026-07-28 client notification the protocol version its
// header states when its body lacks one. mcp-go requires the version in both places on every
// POST of that revision and answers 400 otherwise, while the go-sdk client (v1.8.0) sends
// notifications/cancelled without it and then drops the whole session on the 400: cancelling
// one call would disconnect the client. The header already says which revision the client
// speaks, so copying it into the body changes no meaning.
func StampNotificationVersion(r *http.Request) error {
	version := r.Header.Get(mcp.HeaderProtocolVersion)
	if r.Method != http.MethodPost || !mcp.IsModernProtocol(version) {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params map[string]any  `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.ID != nil || !strings.HasPrefix(msg.Method, "notifications/") {
		return nil
	}
	if msg.Params == nil {
		msg.Params = map[string]any{}
	}
	meta, _ := msg.Params["_meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	if _, ok := meta[mcp.MetaKeyProtocolVersion]; ok {
		return nil
	}
	meta[mcp.MetaKeyProtocolVersion] = version
	msg.Params["_meta"] = meta
	stamped, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": msg.Method, "params": msg.Params})
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(stamped))
	r.ContentLength = int64(len(stamped))
	return nil
}
