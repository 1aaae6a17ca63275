// Package catalog embeds the default configuration: one kustomize base per
// preconfigured service (config/catalog/<entry>/), usable from git with
// kubectl apply -k as well as from the binary.
package catalog

import "embed"

// FS holds every entry directory and its files.
//
//go:embed */*
var FS embed.FS
