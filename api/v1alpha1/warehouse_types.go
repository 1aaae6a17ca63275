package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageSelectionStrategy says how a Warehouse picks the newest revision of
// an image repository.
// +kubebuilder:validation:Enum=SemVer;NewestBuild;Lexical;Digest
type ImageSelectionStrategy string

const (
	// SemVerStrategy: the highest tag that is a semantic version (a leading
	// v allowed) within semverConstraint.
	SemVerStrategy ImageSelectionStrategy = "SemVer"
	// NewestBuildStrategy: the tag whose image was built last (the created
	// time of its image config).
	NewestBuildStrategy ImageSelectionStrategy = "NewestBuild"
	// LexicalStrategy: the lexically greatest tag (e.g. dated tags
	// 20261201-1200).
	LexicalStrategy ImageSelectionStrategy = "Lexical"
	// DigestStrategy: the digest a mutable tag (tag) points to now.
	DigestStrategy ImageSelectionStrategy = "Digest"
)

// WarehouseSpec says which image repositories a Warehouse watches.
type WarehouseSpec struct {
	// subscriptions are the image repositories watched. Each new
	// combination of their newest revisions becomes a Freight.
	// +listType=map
	// +listMapKey=repoURL
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +required
	Subscriptions []ImageSubscription `json:"subscriptions"`

	// interval between two discoveries.
	// +kubebuilder:default="5m"
	// +optional
	Interval metav1.Duration `json:"interval,omitempty"`

	// pullSecretRef names a Secret of type kubernetes.io/dockerconfigjson in
	// the Warehouse's namespace with the credentials of the registries
	// (matched by host). Without it, registries are read anonymously.
	// +optional
	PullSecretRef *LocalObjectReference `json:"pullSecretRef,omitempty"`
}

// ImageSubscription is one image repository a Warehouse watches.
// +kubebuilder:validation:XValidation:rule="self.imageSelectionStrategy != 'Digest' || has(self.tag)",message="imageSelectionStrategy Digest follows a mutable tag: set tag"
// +kubebuilder:validation:XValidation:rule="!has(self.tag) || self.imageSelectionStrategy == 'Digest'",message="tag is only used by imageSelectionStrategy Digest"
// +kubebuilder:validation:XValidation:rule="!has(self.semverConstraint) || self.imageSelectionStrategy == 'SemVer'",message="semverConstraint is only used by imageSelectionStrategy SemVer"
type ImageSubscription struct {
	// repoURL is the image repository, without tag or digest (e.g.
	// registry.example.com/team/app, or 127.0.0.1:5000/app).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.contains('@') && !self.matches(':[^/]*$')",message="repoURL is a repository without tag or digest (a registry port is fine)"
	// +required
	RepoURL string `json:"repoURL"`

	// imageSelectionStrategy says which tag is the newest.
	// +kubebuilder:default=SemVer
	// +optional
	ImageSelectionStrategy ImageSelectionStrategy `json:"imageSelectionStrategy,omitempty"`

	// semverConstraint limits SemVer to the versions it allows (e.g. ^1.2,
	// ~1.4.0, >=2.0 <3.0), in the syntax of Masterminds/semver.
	// +optional
	SemverConstraint string `json:"semverConstraint,omitempty"`

	// tag is the mutable tag whose digest the Digest strategy follows (e.g.
	// latest, stable).
	// +optional
	Tag string `json:"tag,omitempty"`

	// allowTags is a regular expression tags must match to be considered.
	// +optional
	AllowTags string `json:"allowTags,omitempty"`

	// ignoreTags is a regular expression of tags never considered.
	// +optional
	IgnoreTags string `json:"ignoreTags,omitempty"`

	// discoveryLimit is how many revisions, newest first, status lists.
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	DiscoveryLimit int32 `json:"discoveryLimit,omitempty"`

	// insecure reads the registry over plain HTTP (or TLS without
	// verification). Only for registries on a trusted network.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
}

// WarehouseStatus is what a Warehouse last discovered.
type WarehouseStatus struct {
	// observedGeneration is the generation of the last discovery.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// lastDiscoveryTime is when the registries were last read successfully.
	// +optional
	LastDiscoveryTime *metav1.Time `json:"lastDiscoveryTime,omitempty"`
	// discovered lists, per subscription, the revisions found, newest first.
	// +listType=map
	// +listMapKey=repoURL
	// +optional
	Discovered []DiscoveredImages `json:"discovered,omitempty"`
	// lastFreight is the name of the Freight made from the newest revisions.
	// +optional
	LastFreight string `json:"lastFreight,omitempty"`
}

// DiscoveredImages are the revisions found in one repository.
type DiscoveredImages struct {
	// repoURL of the subscription.
	RepoURL string `json:"repoURL"`
	// images found, newest first (at most discoveryLimit).
	// +listType=atomic
	// +optional
	Images []DiscoveredImage `json:"images,omitempty"`
}

// DiscoveredImage is one revision of an image repository.
type DiscoveredImage struct {
	// tag of the revision.
	Tag string `json:"tag"`
	// digest of the manifest (or index) the tag points to.
	Digest string `json:"digest"`
	// createdAt is the build time of the image, when its config says it.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wh,categories=kargo
// +kubebuilder:printcolumn:name="Last Freight",type=string,JSONPath=`.status.lastFreight`
// +kubebuilder:printcolumn:name="Last Discovery",type=date,JSONPath=`.status.lastDiscoveryTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Warehouse watches image repositories and packs each new combination of
// their newest revisions into a Freight.
type Warehouse struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   WarehouseSpec   `json:"spec"`
	Status WarehouseStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// WarehouseList contains a list of Warehouse.
type WarehouseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Warehouse `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Warehouse{}, &WarehouseList{})
}
