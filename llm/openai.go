package llm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults for [OpenAIConfig] fields left zero.
const (
	DefaultBaseURL     = "https://api.openai.com/v1"
	DefaultTimeout     = 20 * time.Minute
	DefaultMaxRetries  = 4
	DefaultMaxRepairs  = 2
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffMax  = 20 * time.Second
)

// maxRetryAfter bounds how long a server's Retry-After can make a call wait, so a bogus header
// cannot park a trace for hours; the caller's context still bounds everything.
const maxRetryAfter = 2 * time.Minute

// OpenAIConfig configures an [OpenAI] provider. Zero fields take the defaults above.
type OpenAIConfig struct {
	BaseURL string // default DefaultBaseURL
	APIKey  string // may be empty for local servers (vLLM, llama.cpp, Ollama)
	Model   string // required
	// Timeout bounds the wait for the model, per attempt; default DefaultTimeout (20 min), long
	// enough for a reasoning model that thinks for minutes before its first token. A streamed
	// call (the default) may run as long as its answer keeps coming: Timeout is the longest wait
	// for the first byte and between two pieces of the answer (an idle timeout). A call made with
	// DisableStreaming must finish within Timeout.
	Timeout time.Duration
	// DisableStreaming sends each call as one plain request instead of streaming the answer as
	// server-sent events. Streaming is the default because a long answer then survives as long
	// as the connection is alive, and the part received before a broken connection is kept: the
	// next attempt asks the model to continue it rather than start over. A server that refuses
	// streaming is detected and switched to plain requests for the life of the provider.
	DisableStreaming bool
	// ReasoningEffort is sent as reasoning_effort (one of ReasoningEfforts); empty sends none
	// and leaves it to the model.
	ReasoningEffort string
	// MaxCompletionTokens caps each completion, reasoning tokens included, when a request sets
	// no MaxTokens of its own; 0 leaves it to the provider.
	MaxCompletionTokens int
	// MaxRetries is how many times a 429, 5xx, timed-out or broken attempt is retried; 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// MaxRepairs is how many times the model is re-asked after a reply that is not JSON or
	// breaks the schema; 0 means DefaultMaxRepairs, negative means none.
	MaxRepairs int
	// BackoffBase and BackoffMax shape the exponential backoff between retries: the n-th
	// retry waits between half and all of min(BackoffBase*2^n, BackoffMax). Tests shrink them.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	HTTPClient  *http.Client // optional; a plain client when nil (timeouts come from Timeout)
	Logger      *slog.Logger // optional; slog.Default() when nil
}

// String describes the configuration without the API key, so printing a config cannot leak it.
func (c OpenAIConfig) String() string {
	return fmt.Sprintf("OpenAIConfig{BaseURL: %s, Model: %q, APIKey: %s}", redactURL(c.BaseURL), c.Model, keyState(c.APIKey))
}

// GoString keeps %#v from printing the API key.
func (c OpenAIConfig) GoString() string { return c.String() }

// LogValue keeps slog from printing the API key.
func (c OpenAIConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", redactURL(c.BaseURL)),
		slog.String("model", c.Model),
		slog.String("api_key", keyState(c.APIKey)),
	)
}

func keyState(key string) string {
	if key == "" {
		return "unset"
	}
	return "set"
}

// OpenAIConfigFromEnv reads OPENAI_BASE_URL, OPENAI_API_KEY and GOME_MODEL (falling back to
// OPENAI_MODEL). Flags, where a command has them, override what it returns.
func OpenAIConfigFromEnv() OpenAIConfig {
	model := os.Getenv("GOME_MODEL")
	if model == "" {
		model = os.Getenv("OPENAI_MODEL")
	}
	return OpenAIConfig{
		BaseURL: os.Getenv("OPENAI_BASE_URL"),
		APIKey:  os.Getenv("OPENAI_API_KEY"),
		Model:   model,
	}
}

// responseMode is how the provider asks for JSON. Servers differ in what they accept, so the
// provider starts with the strongest and steps down when a server refuses it.
type responseMode int

const (
	modeJSONSchema responseMode = iota // response_format json_schema
	modeJSONObject                     // response_format json_object, schema in the system message
	modeText                           // no response_format, schema in the system message
)

func (m responseMode) String() string {
	switch m {
	case modeJSONSchema:
		return "json_schema"
	case modeJSONObject:
		return "json_object"
	default:
		return "text"
	}
}

// ReasoningEfforts returns the values [OpenAIConfig.ReasoningEffort] accepts: the
// reasoning_effort levels OpenAI-compatible endpoints know. Which of them a model takes is the
// model's business; a refusal comes back as [ErrRejected] naming reasoning_effort.
func ReasoningEfforts() []string {
	return []string{"none", "minimal", "low", "medium", "high", "xhigh"}
}

// reasoningModelName matches the models that refuse a temperature other than their default:
// OpenAI's o-series (o1, o3-mini, o4-mini, ...) and gpt-5 family, with or without a router's
// provider prefix such as "openai/".
var reasoningModelName = regexp.MustCompile(`^(o[1-9][0-9]*([-_.].*)?|gpt-5.*)$`)

// refusesTemperature says whether model is known by its name to refuse a temperature.
func refusesTemperature(model string) bool {
	name := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return reasoningModelName.MatchString(name)
}

// OpenAI is a [Model] backed by an OpenAI-compatible chat completions endpoint. It is safe
// for concurrent use.
type OpenAI struct {
	client      *openai.Client
	model       string
	endpoint    string // base URL fit for messages (no credentials)
	apiKey      string // kept only to scrub it from server messages
	timeout     time.Duration
	effort      string
	maxTokens   int // default max_completion_tokens
	http        *http.Client
	baseURL     string // API root without a trailing slash, for the streaming requests
	maxRetries  int
	maxRepairs  int
	backoffBase time.Duration
	backoffMax  time.Duration
	log         *slog.Logger

	mu   sync.Mutex
	mode responseMode // the strongest JSON mode this server accepted; only ever steps down
	// noStream and noTemperature only ever turn on: the server refused streaming, or the
	// model refuses a temperature (known by its name, or by a 400 naming temperature).
	noStream      bool
	noTemperature bool
	rng           *rand.Rand // jitter; not safe for concurrent use, hence mu
}

// NewOpenAI checks cfg and returns a provider. It does not contact the endpoint.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("llm: no model configured: set GOME_MODEL (or OPENAI_MODEL) or pass --model")
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: base URL %s is not an http(s) URL: set OPENAI_BASE_URL or --base-url to the API root, such as %s",
			redactURL(base), DefaultBaseURL)
	}
	if cfg.APIKey == "" && u.Hostname() == "api.openai.com" {
		return nil, errors.New("llm: no API key for api.openai.com: set OPENAI_API_KEY or pass --api-key")
	}
	if cfg.Timeout < 0 || cfg.BackoffBase < 0 || cfg.BackoffMax < 0 {
		return nil, errors.New("llm: negative Timeout, BackoffBase or BackoffMax: use 0 for the default or a positive duration")
	}
	if cfg.ReasoningEffort != "" && !slices.Contains(ReasoningEfforts(), cfg.ReasoningEffort) {
		return nil, fmt.Errorf("llm: reasoning effort %q is not one Gome knows: use one of %s, or none to leave it to the model",
			cfg.ReasoningEffort, strings.Join(ReasoningEfforts(), ", "))
	}
	if cfg.MaxCompletionTokens < 0 {
		return nil, fmt.Errorf("llm: max completion tokens %d is negative: use 0 to leave it to the provider, or a positive cap",
			cfg.MaxCompletionTokens)
	}

	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimRight(base, "/")
	hc := cfg.HTTPClient
	if hc == nil {
		// No client-wide timeout: each attempt carries its own (a total one, or an idle one
		// when streaming).
		hc = &http.Client{}
	}
	oc.HTTPClient = hc
	o := &OpenAI{
		client:        openai.NewClientWithConfig(oc),
		model:         cfg.Model,
		endpoint:      u.Redacted(),
		apiKey:        cfg.APIKey,
		timeout:       orDefault(cfg.Timeout, DefaultTimeout),
		effort:        cfg.ReasoningEffort,
		maxTokens:     cfg.MaxCompletionTokens,
		http:          hc,
		baseURL:       oc.BaseURL,
		noStream:      cfg.DisableStreaming,
		noTemperature: refusesTemperature(cfg.Model),
		maxRetries:    countOrDefault(cfg.MaxRetries, DefaultMaxRetries),
		maxRepairs:    countOrDefault(cfg.MaxRepairs, DefaultMaxRepairs),
		backoffBase:   orDefault(cfg.BackoffBase, DefaultBackoffBase),
		backoffMax:    orDefault(cfg.BackoffMax, DefaultBackoffMax),
		log:           cfg.Logger,
		rng:           rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.backoffMax = max(o.backoffMax, o.backoffBase)
	return o, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func countOrDefault(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	default:
		return n
	}
}

// String names the provider without its API key.
func (o *OpenAI) String() string { return fmt.Sprintf("openai(%s at %s)", o.model, o.endpoint) }

// Complete asks the model for a JSON value that validates against req.Schema. Replies that are
// not JSON or break the schema are sent back to the model with the problem quoted, up to
// MaxRepairs times; transport failures (429, 5xx, timeouts) are retried with backoff.
func (o *OpenAI) Complete(ctx context.Context, req Request) (Response, error) {
	resp := Response{Model: o.model}
	if err := req.check(); err != nil {
		return resp, err
	}
	resolved, err := req.resolveSchema()
	if err != nil {
		return resp, err
	}
	var schemaJSON json.RawMessage
	if req.Schema != nil {
		if schemaJSON, err = json.Marshal(req.Schema); err != nil {
			return resp, fmt.Errorf("llm: request %q: schema %q cannot be encoded: %w: fix Request.Schema", req.Key, req.schemaName(), err)
		}
	}
	log := o.log.With("key", req.Key, "purpose", req.Purpose, "model", o.model)
	start := time.Now()
	history := slices.Clone(req.Messages)
	for {
		out, err := o.exchange(ctx, log, req, schemaJSON, history)
		resp.Usage.add(out.usage)
		if err != nil {
			return resp, err
		}
		resp.Attempts++
		if out.model != "" {
			resp.Model = out.model
		}
		text := out.text()
		raw, problem := decodeReply(text, resolved)
		if problem != nil && out.prefix != "" {
			// The answer was continued after a broken stream. A model that started over
			// instead of continuing gave a whole answer on its own; take that.
			if alone, p := decodeReply(out.content, resolved); p == nil {
				raw, problem = alone, nil
			}
		}
		if problem == nil {
			resp.JSON = raw
			log.Debug("model call done", "attempts", resp.Attempts, "prompt_tokens", resp.Usage.PromptTokens,
				"completion_tokens", resp.Usage.CompletionTokens, "duration", time.Since(start))
			return resp, nil
		}
		if out.finish == string(openai.FinishReasonLength) {
			problem = fmt.Errorf("the reply was cut off at the token limit before the JSON was complete (%w)", problem)
		}
		if resp.Attempts > o.maxRepairs {
			return resp, fmt.Errorf("%w: model %s gave no usable %q reply for %q in %d attempts; last problem: %s",
				ErrInvalidOutput, o.model, req.schemaName(), req.Key, resp.Attempts, truncate(o.scrub(problem.Error()), maxProblemLen))
		}
		log.Warn("model reply unusable; asking again", "attempt", resp.Attempts, "problem", truncate(problem.Error(), 300))
		if strings.TrimSpace(text) != "" {
			history = append(history, Message{Role: RoleAssistant, Content: text})
		}
		history = append(history, Message{Role: RoleUser, Content: repairPrompt(problem, req.schemaName())})
	}
}

// modelReply is one completion as the provider uses it, however it travelled.
type modelReply struct {
	prefix  string // text received before a broken stream, which content continues
	content string
	refusal string
	finish  string
	model   string
	usage   Usage // as the server reported it; a broken stream reports none
	header  http.Header
}

// text is the whole answer, or the refusal when the model refused, so a refusal is quoted back
// like any other unusable reply.
func (r modelReply) text() string {
	if r.prefix == "" && r.content == "" && r.refusal != "" {
		return "refusal: " + r.refusal
	}
	return r.prefix + r.content
}

// fromCompletion converts go-openai's non-streamed completion.
func fromCompletion(out openai.ChatCompletionResponse) modelReply {
	r := modelReply{
		model:  out.Model,
		usage:  Usage{PromptTokens: out.Usage.PromptTokens, CompletionTokens: out.Usage.CompletionTokens},
		header: out.Header(),
	}
	if len(out.Choices) > 0 {
		c := out.Choices[0]
		r.content, r.refusal, r.finish = c.Message.Content, c.Message.Refusal, string(c.FinishReason)
	}
	return r
}

func repairPrompt(problem error, schemaName string) string {
	return fmt.Sprintf("Your previous reply could not be used: %s\n\nReply again with the complete answer as a single JSON value "+
		"that validates against the %q schema: no prose, no Markdown fences.", truncate(problem.Error(), maxProblemLen), schemaName)
}

// exchange produces one completion: it sends the request (streamed unless the provider is set
// or has learnt not to), steps down the JSON mode or drops the temperature when the server
// refuses them, retries transient failures, and continues an answer whose stream broke.
// The reply carries the usage of every attempt that reported one, even when err is set.
func (o *OpenAI) exchange(ctx context.Context, log *slog.Logger, req Request, schemaJSON json.RawMessage, history []Message) (modelReply, error) {
	// fallbacks bounds the setting changes one exchange may make, so the loop ends even if the
	// server refuses everything.
	retries, fallbacks := 0, 0
	var usage Usage
	var partial string // what a broken stream delivered so far; the next attempt continues it
	for {
		mode := o.currentMode()
		msgs := history
		if partial != "" {
			msgs = append(slices.Clone(history),
				Message{Role: RoleAssistant, Content: partial},
				Message{Role: RoleUser, Content: continuePrompt(len(partial))})
		}
		creq := o.chatRequest(mode, req, schemaJSON, msgs)
		if partial != "" {
			// The continuation is the rest of a JSON text, not a JSON text of its own.
			creq.ResponseFormat = nil
		}
		streamed := !o.flag(&o.noStream)
		var out modelReply
		var err error
		if streamed {
			out, err = o.streamAttempt(ctx, creq)
		} else {
			out, err = o.plainAttempt(ctx, creq)
		}
		usage.add(out.usage)
		if err == nil {
			out.usage, out.prefix = usage, partial
			return out, nil
		}
		if ctx.Err() != nil {
			return modelReply{usage: usage}, fmt.Errorf("llm: call %q to %s stopped: %w", req.Key, o.endpoint, context.Cause(ctx))
		}
		if out.content != "" {
			partial += out.content
		}
		f := o.classify(err, out.header)
		switch {
		case f.dropTemperature && creq.Temperature != 0 && fallbacks < maxFallbacks:
			fallbacks++
			o.setFlag(&o.noTemperature)
			log.Warn("model refused the temperature; sending none for the life of this provider",
				"server_message", truncate(f.detail, 300))
			continue
		case f.noStream && streamed && fallbacks < maxFallbacks:
			fallbacks++
			o.setFlag(&o.noStream)
			log.Warn("endpoint refused streaming; sending plain requests for the life of this provider",
				"server_message", truncate(f.detail, 300))
			continue
		case f.fallback && mode < modeText && fallbacks < maxFallbacks:
			fallbacks++
			next := o.stepDown(mode)
			log.Warn("endpoint refused the JSON mode; falling back for the life of this provider",
				"from", mode.String(), "to", next.String(), "server_message", truncate(f.detail, 300))
			continue
		case f.transient:
			if retries >= o.maxRetries {
				lost := ""
				if partial != "" {
					lost = fmt.Sprintf("; the %d characters of answer received were logged and dropped", len(partial))
					log.Warn("giving up on a broken answer", "chars", len(partial), "answer_head", truncate(partial, 500))
				}
				return modelReply{usage: usage}, fmt.Errorf("%w: %s still failing after %d attempts (%s)%s: try again later or raise MaxRetries",
					ErrUnavailable, o.endpoint, retries+1, f.detail, lost)
			}
			wait := f.retryAfter
			if wait <= 0 {
				wait = o.backoff(retries)
			}
			retries++
			if partial != "" {
				log.Warn("answer stream broke; asking the model to continue it", "problem", f.detail,
					"chars_received", len(partial), "retry", retries, "wait", wait)
			} else {
				log.Warn("model endpoint failed; retrying", "problem", f.detail, "retry", retries, "wait", wait)
			}
			if err := sleep(ctx, wait); err != nil {
				return modelReply{usage: usage}, fmt.Errorf("llm: call %q to %s stopped while waiting to retry: %w", req.Key, o.endpoint, err)
			}
		default:
			if partial != "" {
				log.Warn("dropping a broken answer after a failed continuation", "chars", len(partial), "answer_head", truncate(partial, 500))
			}
			return modelReply{usage: usage}, f.err
		}
	}
}

// maxFallbacks bounds the settings one exchange may give up (JSON modes, temperature,
// streaming), so a server that refuses everything still ends the loop.
const maxFallbacks = int(modeText) + 2

// continuePrompt asks the model to go on with an answer whose stream broke.
func continuePrompt(received int) string {
	return fmt.Sprintf("Your previous reply was cut off by a network failure after %d characters; what arrived is quoted above "+
		"as your message. Continue it from exactly where it stops: reply with only the remaining text, starting with the "+
		"next character, repeating nothing and adding no fences or prose.", received)
}

// plainAttempt sends one non-streamed request, bounded as a whole by the timeout.
func (o *OpenAI) plainAttempt(ctx context.Context, creq openai.ChatCompletionRequest) (modelReply, error) {
	attemptCtx, cancel := context.WithTimeoutCause(ctx, o.timeout, errAttemptTimeout)
	defer cancel()
	out, err := o.client.CreateChatCompletion(attemptCtx, creq)
	if err != nil && ctx.Err() == nil && context.Cause(attemptCtx) == errAttemptTimeout {
		err = fmt.Errorf("no answer within %s: %w", o.timeout, errAttemptTimeout)
	}
	return fromCompletion(out), err
}

// errAttemptTimeout marks an attempt stopped by the provider's own timeout, as opposed to the
// caller's context.
var errAttemptTimeout = errors.New("attempt timed out")

func (o *OpenAI) flag(f *bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *f
}

func (o *OpenAI) setFlag(f *bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	*f = true
}

func (o *OpenAI) currentMode() responseMode {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mode
}

// stepDown moves the provider below mode, unless a concurrent call already moved it further.
func (o *OpenAI) stepDown(mode responseMode) responseMode {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mode <= mode {
		o.mode = mode + 1
	}
	return o.mode
}

// backoff is the wait before retry n (0-based): equal jitter over an exponential ceiling.
func (o *OpenAI) backoff(n int) time.Duration {
	ceiling := o.backoffMax
	if n < 32 {
		if d := o.backoffBase << n; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	half := ceiling / 2
	o.mu.Lock()
	jitter := time.Duration(o.rng.Int64N(int64(ceiling-half) + 1))
	o.mu.Unlock()
	return half + jitter
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// chatRequest builds the wire request for one attempt in the given mode.
func (o *OpenAI) chatRequest(mode responseMode, req Request, schemaJSON json.RawMessage, history []Message) openai.ChatCompletionRequest {
	// Without json_schema the model only knows the schema if the prompt spells it out.
	var instruction string
	if mode != modeJSONSchema || schemaJSON == nil {
		instruction = schemaInstruction(req.schemaName(), schemaJSON)
	}
	msgs := make([]openai.ChatCompletionMessage, 0, len(history)+1)
	for i, m := range history {
		content := m.Content
		if i == 0 && m.Role == RoleSystem && instruction != "" {
			content += "\n\n" + instruction
			instruction = ""
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: m.Role, Content: content})
	}
	if instruction != "" {
		msgs = slices.Insert(msgs, 0, openai.ChatCompletionMessage{Role: RoleSystem, Content: instruction})
	}

	creq := openai.ChatCompletionRequest{
		Model:    o.model,
		Messages: msgs,
		// Reasoning models reject max_tokens; max_completion_tokens works for all current ones.
		MaxCompletionTokens: req.MaxTokens,
		ReasoningEffort:     o.effort,
	}
	if creq.MaxCompletionTokens == 0 {
		creq.MaxCompletionTokens = o.maxTokens
	}
	// A temperature is a preference, not a requirement: models that refuse one get none.
	if req.Temperature != nil && !o.flag(&o.noTemperature) {
		t := float32(*req.Temperature)
		if t == 0 {
			// go-openai omits a zero temperature, which would silently mean the provider's
			// default (usually 1); the smallest positive float is sent instead and acts as 0.
			t = math.SmallestNonzeroFloat32
		}
		creq.Temperature = t
	}
	switch {
	case mode == modeJSONSchema && schemaJSON != nil:
		creq.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name: req.schemaName(),
				// Not strict: strict mode demands every property be required and forbids
				// keywords our schemas use; validation here enforces the schema instead.
				Schema: schemaJSON,
				Strict: false,
			},
		}
	case mode <= modeJSONObject:
		creq.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return creq
}

// schemaInstruction tells the model the reply format in words. It always says "JSON": OpenAI's
// json_object mode refuses prompts that do not.
func schemaInstruction(name string, schemaJSON json.RawMessage) string {
	if schemaJSON == nil {
		return "Reply with a single JSON value and nothing else: no prose, no Markdown fences."
	}
	return fmt.Sprintf("Reply with a single JSON value and nothing else (no prose, no Markdown fences). "+
		"It must validate against this JSON schema, named %q:\n%s", name, schemaJSON)
}

// failure is what went wrong with one HTTP attempt, sorted by what to do about it.
type failure struct {
	transient       bool          // retry after a backoff
	fallback        bool          // the server refused the response_format; step the mode down
	dropTemperature bool          // the model refused the temperature; send none
	noStream        bool          // the server refused streaming; send plain requests
	retryAfter      time.Duration // the server's requested wait, 0 if none
	detail          string        // short description, scrubbed of the key
	err             error         // the error to return when neither retrying nor falling back
}

// classify sorts an attempt's error; header is the response's, when there was one.
func (o *OpenAI) classify(err error, header http.Header) failure {
	status, message, code := httpStatus(err)
	// Scrub before truncating, so a cut cannot leave half a key behind.
	message = truncate(o.scrub(strings.TrimSpace(message)), maxProblemLen)
	if status != 0 {
		detail := fmt.Sprintf("HTTP %d: %s", status, message)
		badRequest := status == http.StatusBadRequest || status == http.StatusUnprocessableEntity
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return failure{detail: detail, err: fmt.Errorf("%w: %s answered HTTP %d (%s): check OPENAI_API_KEY or --api-key, and that the key may use model %q",
				ErrAuth, o.endpoint, status, message, o.model)}
		case status == http.StatusTooManyRequests && code == "insufficient_quota":
			return failure{detail: detail, err: fmt.Errorf("%w: %s answered HTTP 429, quota exhausted (%s): check the account's billing and limits",
				ErrRejected, o.endpoint, message)}
		case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
			status == http.StatusConflict || status >= 500:
			return failure{transient: true, detail: detail, retryAfter: retryAfter(header, time.Now())}
		case badRequest && strings.Contains(strings.ToLower(message), "temperature"):
			return failure{dropTemperature: true, detail: detail, err: fmt.Errorf("%w: %s answered HTTP %d (%s)",
				ErrRejected, o.endpoint, status, message)}
		case badRequest && mentionsReasoningEffort(message):
			return failure{detail: detail, err: fmt.Errorf("%w: %s answered HTTP %d (%s): model %q does not take reasoning effort %q: choose another (--reasoning-effort) or leave it unset",
				ErrRejected, o.endpoint, status, message, o.model, o.effort)}
		case badRequest && mentionsStreaming(message):
			return failure{noStream: true, detail: detail, err: fmt.Errorf("%w: %s answered HTTP %d (%s)",
				ErrRejected, o.endpoint, status, message)}
		case badRequest && mentionsResponseFormat(message):
			return failure{fallback: true, detail: detail, err: fmt.Errorf("%w: %s answered HTTP %d (%s): the server accepts no structured-output setting Gome knows",
				ErrRejected, o.endpoint, status, message)}
		case status == http.StatusNotFound:
			return failure{detail: detail, err: fmt.Errorf("%w: %s answered HTTP 404 (%s): check the model name %q (GOME_MODEL or --model) and that OPENAI_BASE_URL ends in the API root such as /v1",
				ErrRejected, o.endpoint, message, o.model)}
		default:
			return failure{detail: detail, err: fmt.Errorf("%w: %s answered HTTP %d: %s", ErrRejected, o.endpoint, status, message)}
		}
	}

	var broken *streamBreak
	if errors.As(err, &broken) {
		return failure{transient: true, detail: o.scrub(broken.Error())}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, errAttemptTimeout) || (errors.As(err, &netErr) && netErr.Timeout()):
		return failure{transient: true, detail: fmt.Sprintf("no answer within %s", o.timeout)}
	case unreachable(err):
		return failure{detail: "unreachable", err: fmt.Errorf("%w: %s (%w): check OPENAI_BASE_URL or --base-url",
			ErrUnreachable, o.endpoint, unwrapURLError(err))}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return failure{transient: true, detail: fmt.Sprintf("connection dropped (%v)", unwrapURLError(err))}
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return failure{err: fmt.Errorf("llm: request to %s failed: %w", o.endpoint, urlErr.Err)}
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
		return failure{err: fmt.Errorf("llm: %s answered with something that is not an OpenAI chat completion (%w): check OPENAI_BASE_URL points at an OpenAI-compatible API root such as /v1",
			o.endpoint, err)}
	}
	// Errors go-openai raises before sending, such as parameters a reasoning model refuses.
	return failure{err: fmt.Errorf("llm: request to model %s not sent: %w", o.model, err)}
}

// httpStatus digs the HTTP status, the server's message and its error code out of go-openai's
// error types; status 0 means the request never got an HTTP answer.
func httpStatus(err error) (status int, message, code string) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, se.message, se.code
	}
	// RequestError comes first: it may wrap an APIError that lacks the status.
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) && reqErr.HTTPStatusCode != 0 {
		message = string(reqErr.Body)
		var apiErr *openai.APIError
		if errors.As(reqErr.Err, &apiErr) && apiErr.Message != "" {
			message = apiErr.Message
		}
		if message == "" {
			message = reqErr.HTTPStatus
		}
		return reqErr.HTTPStatusCode, message, ""
	}
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) && apiErr.HTTPStatusCode != 0 {
		code, _ = apiErr.Code.(string)
		return apiErr.HTTPStatusCode, apiErr.Message, code
	}
	return 0, "", ""
}

// mentionsResponseFormat says whether a 400 is the server refusing structured output rather
// than something else about the request.
func mentionsResponseFormat(message string) bool {
	m := strings.ToLower(message)
	for _, s := range []string{"response_format", "response format", "json_schema", "json_object", "structured output"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// mentionsStreaming says whether a 400 is the server refusing streaming or its options. It
// looks for the word stream, so that "upstream" does not count.
func mentionsStreaming(message string) bool {
	return streamWord.MatchString(strings.ToLower(message))
}

var streamWord = regexp.MustCompile(`\bstream(_options|ing)?\b`)

// mentionsReasoningEffort says whether a 400 is the model refusing reasoning_effort.
func mentionsReasoningEffort(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "reasoning_effort") || strings.Contains(m, "reasoning effort") || strings.Contains(m, "reasoning.effort")
}

// unreachable says whether err means the endpoint cannot be reached at all: a problem of
// configuration or of the network, not of load, so retrying soon will not help.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.As(err, &dnsErr) || errors.As(err, &recordErr) || errors.As(err, &certErr) ||
		errors.As(err, &authErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// unwrapURLError drops net/http's `Post "https://…/chat/completions":` prefix, which repeats
// the endpoint the message names anyway.
func unwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// retryAfter reads how long the server asked us to wait: OpenAI's retry-after-ms, or the
// standard Retry-After in seconds or as an HTTP date. 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			d = time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := h.Get("Retry-After"); d == 0 && v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	return min(max(d, 0), maxRetryAfter)
}

// scrub removes the API key from text that came from the server: some servers quote the key
// they refused.
func (o *OpenAI) scrub(s string) string {
	if o.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, o.apiKey, "[redacted]")
}

// redactURL hides credentials embedded in a URL. Unparsable input is not shown at all, since
// it may hold a credential in a place url.Parse cannot find.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
