//go:build tools

// Package gome pins dependencies that packages under construction will import.
package gome

import (
	_ "github.com/google/jsonschema-go/jsonschema"
	_ "github.com/mark3labs/mcp-go/server"
	_ "github.com/moby/moby/client"
	_ "github.com/modelcontextprotocol/go-sdk/mcp"
	_ "github.com/sashabaranov/go-openai"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
