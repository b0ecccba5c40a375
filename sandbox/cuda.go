package sandbox

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/client"
)

// CUDAImage is the tag BuildCUDAImage gives the CUDA image by default.
const CUDAImage = "gome-sandbox:cuda"

// ErrRegistryUnreachable reports that a build needs a registry (Docker Hub, PyPI) the Docker
// daemon cannot reach.
var ErrRegistryUnreachable = errors.New("sandbox: no registry answers")

// cudaDockerfile is sandbox/image/Dockerfile.cuda, built into the binary so `gome-mcp sandbox
// build --cuda` works from anywhere.
//
//go:embed image/Dockerfile.cuda
var cudaDockerfile []byte

// CUDABuildOptions configure BuildCUDAImage.
type CUDABuildOptions struct {
	Image    string    // tag to create; "" = CUDAImage
	Progress io.Writer // the build's output, step by step; nil = discarded
}

// BuildCUDAImage builds sandbox/image/Dockerfile.cuda with the Docker daemon: the official
// PyTorch CUDA image plus lightgbm, catboost, timm, transformers, albumentations and the rest
// from PyPI. Unlike BuildImage it needs registries; when the daemon cannot reach one, the error
// wraps ErrRegistryUnreachable and says what to do instead.
func BuildCUDAImage(ctx context.Context, opts CUDABuildOptions) error {
	if opts.Image == "" {
		opts.Image = CUDAImage
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	cli, err := newDockerClient(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	var buildContext bytes.Buffer
	tw := tar.NewWriter(&buildContext)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(cudaDockerfile))}); err != nil {
		return fmt.Errorf("%w: build context: %w", ErrBuild, err)
	}
	if _, err := tw.Write(cudaDockerfile); err != nil {
		return fmt.Errorf("%w: build context: %w", ErrBuild, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("%w: build context: %w", ErrBuild, err)
	}
	resp, err := cli.ImageBuild(ctx, &buildContext, client.ImageBuildOptions{
		Tags: []string{opts.Image}, Dockerfile: "Dockerfile", Remove: true, ForceRemove: true,
	})
	if err != nil {
		return cudaBuildError(opts.Image, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := readBuildStream(resp.Body, opts.Progress); err != nil {
		return cudaBuildError(opts.Image, err)
	}
	return nil
}

// readBuildStream copies the build's output lines to w and returns the error the build reports,
// with the last lines before it (where pip says why it failed).
func readBuildStream(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	var last []string
	fail := func(msg string) error {
		if len(last) == 0 {
			return errors.New(msg)
		}
		return fmt.Errorf("%s; the build's last lines: %s", msg, strings.Join(last, " | "))
	}
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Status      string `json:"status"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the daemon's reply: %w", err)
		}
		switch {
		case msg.ErrorDetail.Message != "":
			return fail(msg.ErrorDetail.Message)
		case msg.Error != "":
			return fail(msg.Error)
		case msg.Stream != "":
			fmt.Fprint(w, msg.Stream)
			for line := range strings.Lines(msg.Stream) {
				if line = strings.TrimSpace(line); line != "" {
					last = append(last, line)
				}
			}
			if len(last) > 5 {
				last = last[len(last)-5:]
			}
		case msg.Status != "":
			fmt.Fprintln(w, msg.Status)
		}
	}
}

// cudaBuildError explains a failed CUDA build; failures to reach a registry get their own error,
// with what to do on a machine without one.
func cudaBuildError(image string, err error) error {
	msg := err.Error()
	for _, sign := range []string{
		"dial tcp", "no such host", "i/o timeout", "TLS handshake", "connection refused", "connection reset",
		"network is unreachable", "Temporary failure in name resolution", "Could not fetch URL", "Max retries exceeded",
		"NewConnectionError", "pull access denied", "toomanyrequests", "failed to resolve source metadata",
		"failed to do request", "context deadline exceeded", "No matching distribution",
	} {
		if strings.Contains(msg, sign) {
			return fmt.Errorf("%w: building %s needs Docker Hub (the pytorch/pytorch base image) and PyPI, and this Docker daemon cannot reach them (%s); build it where they answer and copy it here with `docker save %s | docker load`, or keep to the Debian image (gome-mcp sandbox build), which needs no registry",
				ErrRegistryUnreachable, image, strings.TrimSpace(firstLine(msg)), image)
		}
	}
	return fmt.Errorf("%w: docker build of %s from sandbox/image/Dockerfile.cuda: %w", ErrBuild, image, err)
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
