package tools

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
)

// apply_update with sampling (and no code) asks the client's own model to write the step the
// way compute_gradient's sampling mode asks for a gradient: through multi round-trip requests
// with a 2026-07-28 client, and through sampling/createMessage (which mcp-go sends on the
// handler's behalf) with an earlier one. An improve step without a gradient takes two rounds:
// the gradient first, then the update that follows it, the gradient travelling in the request
// state. Once the code is written the call goes on as if the client had passed it.

const updateInput = "update"

// updateState is the request state between the rounds of a sampled update.
type updateState struct {
	Kind     engine.StepKind  `json:"kind"`
	Gradient *engine.Gradient `json:"gradient,omitempty"`
}

// samplingUpdateHandler serves apply_update calls that have the client's model write the code;
// other calls go to next.
func samplingUpdateHandler(d Deps, next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.GetArguments()
		if args["sampling"] != true || (args["code"] != nil && args["code"] != "") {
			return next(ctx, req)
		}
		in, err := decodeArgs[ApplyUpdateInput](args)
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		res, written, err := samplingUpdate(ctx, d, in, req.Params.InputResponses, req.Params.RequestState)
		if r, ok := errorResult(err); ok {
			return r, nil
		}
		if err != nil {
			return nil, err
		}
		if res != nil {
			return res, nil
		}
		// The client's model wrote the step: take it as the client's code.
		args = maps.Clone(args)
		args["code"], args["gradient"] = written.Code, written.Gradient
		if in.Summary == "" {
			args["summary"] = written.Summary
		}
		req.Params.Arguments = args
		req.Params.InputResponses, req.Params.RequestState = nil, ""
		return next(ctx, req)
	}
}

// samplingUpdate returns the next round's input request, or the update the client's model wrote.
func samplingUpdate(ctx context.Context, d Deps, in ApplyUpdateInput, answers mcp.InputResponses, state string) (*mcp.CallToolResult, engine.UpdateInput, error) {
	var st updateState
	if state != "" {
		if err := json.Unmarshal([]byte(state), &st); err != nil {
			return nil, engine.UpdateInput{}, userErrorf("requestState is not one this server gave: call apply_update again without it")
		}
	}
	if st.Gradient == nil {
		st.Gradient = in.Gradient
	}
	if reply := server.SamplingResponse(answers, updateInput); reply != nil {
		text, err := sampledText(reply)
		if err != nil {
			return nil, engine.UpdateInput{}, err
		}
		code, summary, err := d.Engine.ReadWrite(st.Kind, text)
		if err != nil {
			return nil, engine.UpdateInput{}, err
		}
		return nil, engine.UpdateInput{Gradient: st.Gradient, Code: code, Summary: summary}, nil
	}
	if reply := server.SamplingResponse(answers, gradientInput); reply != nil {
		g, err := sampledGradient(reply)
		if err != nil {
			return nil, engine.UpdateInput{}, err
		}
		st.Gradient = &g
	} else if err := checkSamplingClient(ctx); err != nil {
		return nil, engine.UpdateInput{}, err
	}
	if st.Gradient == nil {
		gc, err := d.Engine.GradientContext(ctx, in.RunID, in.Trace)
		if err != nil {
			return nil, engine.UpdateInput{}, err
		}
		if gc.Kind == engine.KindImprove {
			// An improve step follows a gradient: have the client's model write that first.
			return server.NewInputRequestBuilder("").Sample(gradientInput, samplingParams(gc.Prompt, gc.Schema)).ToolResult(), engine.UpdateInput{}, nil
		}
	}
	w, err := d.Engine.WriteRequest(ctx, in.RunID, in.Trace, engine.UpdateInput{Gradient: st.Gradient, Hypothesis: in.Hypothesis})
	if err != nil {
		return nil, engine.UpdateInput{}, err
	}
	next, err := json.Marshal(updateState{Kind: w.Kind, Gradient: st.Gradient})
	if err != nil {
		return nil, engine.UpdateInput{}, err
	}
	return server.NewInputRequestBuilder(string(next)).Sample(updateInput, samplingParams(w.Prompt, w.Schema)).ToolResult(), engine.UpdateInput{}, nil
}
