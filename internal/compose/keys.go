package compose

import (
	"fmt"
	"slices"
	"strings"
)

// kind says what becomes of a compose key.
type kind int

const (
	// mapped keys become Kargo fields (values are checked while converting).
	mapped kind = iota
	// ignored keys are ignored by docker stack deploy: a warning.
	ignored
	// unsupported keys cannot be expressed by Kargo: an error, or a warning
	// with --allow-unsupported.
	unsupported
)

type rule struct {
	kind kind
	note string
}

var (
	ok = rule{kind: mapped}
	// dockerIgnores: docker stack deploy ignores the key in swarm mode
	// (types.UnsupportedProperties and DeprecatedProperties of
	// docker/cli/cli/compose, or keys its convert package never reads).
	dockerIgnores = rule{ignored, "ignored by docker stack deploy in swarm mode"}
	// noKargoField: docker maps the key to the Swarm service, Kargo's
	// Service has no field for it.
	noKargoField = rule{unsupported, "docker maps it to the Swarm service, the Kargo Service has no field for it"}
	// notInStackFormat: docker stack deploy refuses the key (forbidden, or
	// not in its compose file format); Kargo has no field for it either.
	notInStackFormat = rule{unsupported, "not accepted by docker stack deploy and not expressible in Kargo"}
)

// serviceKeys classifies every key of a service.
var serviceKeys = map[string]rule{
	"image":             ok,
	"command":           ok,
	"entrypoint":        ok,
	"environment":       ok,
	"env_file":          ok,
	"deploy":            ok,
	"healthcheck":       ok,
	"ports":             ok,
	"networks":          ok,
	"volumes":           ok,
	"configs":           ok,
	"secrets":           ok,
	"labels":            ok,
	"logging":           ok,
	"hostname":          ok,
	"user":              ok,
	"working_dir":       ok,
	"stop_grace_period": ok,
	"restart":           ok, // converted as docker does when deploy.restart_policy is unset
	"extends":           {ignored, "resolved by the loader (docker stack deploy refuses extends)"},
	"profiles":          {ignored, "every service is converted, whatever its profiles"},

	// docker/cli types.UnsupportedProperties and DeprecatedProperties, and
	// keys its convert package does not read.
	"build":          dockerIgnores,
	"cgroupns_mode":  dockerIgnores,
	"cgroup_parent":  dockerIgnores,
	"devices":        dockerIgnores,
	"domainname":     dockerIgnores,
	"external_links": dockerIgnores,
	"ipc":            dockerIgnores,
	"links":          dockerIgnores,
	"mac_address":    dockerIgnores,
	"network_mode":   dockerIgnores,
	"pid":            dockerIgnores,
	"privileged":     dockerIgnores,
	"security_opt":   dockerIgnores,
	"shm_size":       dockerIgnores,
	"userns_mode":    dockerIgnores,
	"container_name": dockerIgnores,
	"expose":         dockerIgnores,
	"depends_on":     {ignored, "ignored by docker stack deploy in swarm mode (Kargo's spec.dependsOn can express an order: add it by hand)"},
	"tmpfs":          {ignored, "ignored by docker stack deploy in swarm mode (use a volume of type tmpfs)"},

	// docker maps these to the ServiceSpec; Kargo has no field.
	"cap_add":         noKargoField,
	"cap_drop":        noKargoField,
	"credential_spec": noKargoField,
	"dns":             noKargoField,
	"dns_search":      noKargoField,
	"extra_hosts":     noKargoField,
	"init":            noKargoField,
	"isolation":       noKargoField,
	"oom_score_adj":   noKargoField,
	"read_only":       noKargoField,
	"stdin_open":      noKargoField,
	"stop_signal":     noKargoField,
	"sysctls":         noKargoField,
	"tty":             noKargoField,
	"ulimits":         noKargoField,
}

var (
	deployKeys = map[string]rule{
		"mode": ok, "replicas": ok, "labels": ok, "placement": ok, "resources": ok,
		"restart_policy": ok, "update_config": ok, "rollback_config": ok, "endpoint_mode": ok,
	}
	placementKeys = map[string]rule{"constraints": ok, "preferences": ok, "max_replicas_per_node": ok}
	resourcesKeys = map[string]rule{"limits": ok, "reservations": ok}
	limitsKeys    = map[string]rule{"cpus": ok, "memory": ok, "pids": noKargoField}
	reserveKeys   = map[string]rule{"cpus": ok, "memory": ok, "generic_resources": noKargoField, "devices": notInStackFormat}
	restartKeys   = map[string]rule{"condition": ok, "delay": ok, "max_attempts": ok, "window": ok}
	updateKeys    = map[string]rule{"parallelism": ok, "delay": ok, "failure_action": ok, "monitor": ok, "max_failure_ratio": ok, "order": ok}
	healthKeys    = map[string]rule{"test": ok, "interval": ok, "timeout": ok, "retries": ok, "start_period": ok, "disable": ok, "start_interval": noKargoField}
	loggingKeys   = map[string]rule{"driver": ok, "options": ok}
	attachKeys    = map[string]rule{
		"aliases":                ok,
		"driver_opts":            noKargoField,
		"ipv4_address":           dockerIgnores,
		"ipv6_address":           dockerIgnores,
		"link_local_ips":         dockerIgnores,
		"mac_address":            dockerIgnores,
		"priority":               dockerIgnores,
		"gw_priority":            dockerIgnores,
		"interface_name":         dockerIgnores,
		"use_service_name_alias": notInStackFormat,
	}
	portKeys = map[string]rule{
		"target": ok, "published": ok, "protocol": ok, "mode": ok,
		"host_ip": dockerIgnores, "name": dockerIgnores, "app_protocol": dockerIgnores,
	}
	mountKeys = map[string]rule{
		"type": ok, "source": ok, "target": ok, "read_only": ok, "volume": ok, "tmpfs": ok,
		"bind":        ok,
		"consistency": {ignored, "has no effect on Linux (docker passes it on, Kargo has no field)"},
		"image":       notInStackFormat,
	}
	mountVolumeKeys = map[string]rule{"nocopy": ok, "subpath": noKargoField, "labels": notInStackFormat}
	mountTmpfsKeys  = map[string]rule{"size": ok, "mode": {ignored, "ignored by docker stack deploy (its convert package maps tmpfs.size only)"}}
	mountBindKeys   = map[string]rule{
		"propagation":      noKargoField,
		"create_host_path": ok, // set by compose-go itself; a Swarm never creates a bind source
		"selinux":          dockerIgnores,
		"recursive":        notInStackFormat,
	}
	fileRefKeys = map[string]rule{"source": ok, "target": ok, "uid": ok, "gid": ok, "mode": ok}

	networkKeys = map[string]rule{
		"name": ok, "external": ok, "driver": ok, "driver_opts": ok, "attachable": ok,
		"internal": ok, "labels": ok,
		"ipam":        noKargoField,
		"enable_ipv4": notInStackFormat,
		"enable_ipv6": notInStackFormat,
	}
	volumeKeys = map[string]rule{
		"name": ok, "external": ok, "driver": ok, "driver_opts": ok, "labels": ok,
	}
	fileObjectKeys = map[string]rule{
		"name": ok, "file": ok, "external": ok, "content": ok, "environment": ok,
		"labels":          noKargoField,
		"driver":          noKargoField,
		"driver_opts":     noKargoField,
		"template_driver": noKargoField,
	}
	topKeys = map[string]rule{
		"services": ok, "networks": ok, "volumes": ok, "configs": ok, "secrets": ok,
		"version": ok, "include": ok,
		"name": {ignored, "the stack is named by --stack"},
	}
)

// checkKeys classifies the keys of m. Extension keys (x-*) are for the
// user's own use (YAML anchors) and are skipped.
func checkKeys(is *issues, where string, m map[string]any, table map[string]rule) {
	for _, key := range sortedKeys(m) {
		if strings.HasPrefix(key, "x-") {
			continue
		}
		r, known := table[key]
		switch {
		case !known:
			is.unsupported("%s: key %s: not supported by kargo convert", where, key)
		case r.kind == ignored:
			is.warn("%s: key %s: %s", where, key, r.note)
		case r.kind == unsupported:
			is.unsupported("%s: key %s: %s", where, key, r.note)
		}
	}
}

// checkModel classifies every key the files set.
func checkModel(raw map[string]any, is *issues) {
	checkKeys(is, "top level", raw, topKeys)
	for _, name := range sortedKeys(rawMap(raw, "services")) {
		svc := rawMap(raw, "services", name)
		if svc == nil {
			continue
		}
		where := "service " + name
		checkKeys(is, where, svc, serviceKeys)
		if d := rawMap(svc, "deploy"); d != nil {
			checkKeys(is, where+": deploy", d, deployKeys)
			sub := func(table map[string]rule, path ...string) {
				if m := rawMap(d, path...); m != nil {
					checkKeys(is, where+": deploy."+strings.Join(path, "."), m, table)
				}
			}
			sub(placementKeys, "placement")
			sub(resourcesKeys, "resources")
			sub(limitsKeys, "resources", "limits")
			sub(reserveKeys, "resources", "reservations")
			sub(restartKeys, "restart_policy")
			sub(updateKeys, "update_config")
			sub(updateKeys, "rollback_config")
		}
		if m := rawMap(svc, "healthcheck"); m != nil {
			checkKeys(is, where+": healthcheck", m, healthKeys)
		}
		if m := rawMap(svc, "logging"); m != nil {
			checkKeys(is, where+": logging", m, loggingKeys)
		}
		if nets := rawMap(svc, "networks"); nets != nil {
			for _, n := range sortedKeys(nets) {
				if m := rawMap(nets, n); m != nil {
					checkKeys(is, where+": networks."+n, m, attachKeys)
				}
			}
		}
		eachMap(svc["ports"], func(i int, m map[string]any) {
			checkKeys(is, fmt.Sprintf("%s: ports[%d]", where, i), m, portKeys)
		})
		eachMap(svc["volumes"], func(i int, m map[string]any) {
			w := fmt.Sprintf("%s: volumes[%d]", where, i)
			checkKeys(is, w, m, mountKeys)
			for key, table := range map[string]map[string]rule{"volume": mountVolumeKeys, "tmpfs": mountTmpfsKeys, "bind": mountBindKeys} {
				if sub := rawMap(m, key); sub != nil {
					checkKeys(is, w+"."+key, sub, table)
				}
			}
		})
		for _, key := range []string{"configs", "secrets"} {
			eachMap(svc[key], func(i int, m map[string]any) {
				checkKeys(is, fmt.Sprintf("%s: %s[%d]", where, key, i), m, fileRefKeys)
			})
		}
	}
	for section, table := range map[string]map[string]rule{
		"networks": networkKeys, "volumes": volumeKeys, "configs": fileObjectKeys, "secrets": fileObjectKeys,
	} {
		for _, name := range sortedKeys(rawMap(raw, section)) {
			if m := rawMap(raw, section, name); m != nil {
				checkKeys(is, strings.TrimSuffix(section, "s")+" "+name, m, table)
			}
		}
	}
}

func eachMap(v any, fn func(int, map[string]any)) {
	list, _ := v.([]any)
	for i, item := range list {
		if m, ok := item.(map[string]any); ok {
			fn(i, m)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
