// Package admission is Kargo's validating admission webhook: who may
// promote. As in Akuity's Kargo, creating a Promotion or approving Freight
// for a Stage takes the custom RBAC verb promote (v1alpha1.PromoteVerb) on
// that Stage (resource stages of swarm.kargo.io, in the Stage's namespace).
// The webhook asks the API server with a SubjectAccessReview for the user
// of each request, the manager's own ServiceAccount included (automatic
// promotions and rollbacks), and refuses a Promotion of Freight the Stage
// may not take (promotion.Eligible: not verified upstream nor approved).
// Only the manager records where Freight was verified (status.verifiedIn),
// and an approval is signed (by) by its user or by nobody.
//
// The manager serves it (kargo manager --webhook-port); config/webhook
// holds the ValidatingWebhookConfiguration that controller-gen generates
// from the markers below, failurePolicy Fail: when the manager does not
// answer, nobody promotes.
package admission

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
)

// Paths of the webhooks on the manager's webhook server; the markers
// repeat them (controller-gen reads no constants).
const (
	PromotionPath     = "/validate-swarm-kargo-io-v1alpha1-promotion"
	FreightStatusPath = "/validate-swarm-kargo-io-v1alpha1-freight-status"
)

// promoterRole is the ClusterRole of config/rbac that grants the promote
// verb, named in refusals so that the user knows what to ask for.
const promoterRole = "kargo-project-promoter"

// The webhook checks Promotion creations and updates of Freight status
// (approvals); Freight's spec is immutable (CEL), so updates of the main
// resource need nothing more.
// +kubebuilder:webhook:path=/validate-swarm-kargo-io-v1alpha1-promotion,mutating=false,failurePolicy=fail,sideEffects=None,groups=swarm.kargo.io,resources=promotions,verbs=create,versions=v1alpha1,name=promotions.swarm.kargo.io,admissionReviewVersions=v1,timeoutSeconds=5
// +kubebuilder:webhook:path=/validate-swarm-kargo-io-v1alpha1-freight-status,mutating=false,failurePolicy=fail,sideEffects=None,groups=swarm.kargo.io,resources=freights/status,verbs=update,versions=v1alpha1,name=freight-approvals.swarm.kargo.io,admissionReviewVersions=v1,timeoutSeconds=5

// The webhook asks the API server whether a user may promote and who the
// manager is, reads the Stage and the Freight of a Promotion, and the
// manager promotes (its own requests go through the same check).
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages;freights,verbs=get
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages,verbs=promote

// Register serves the webhooks on the manager's webhook server.
func Register(mgr ctrl.Manager) {
	v := &validator{client: mgr.GetClient(), reader: mgr.GetAPIReader(), decoder: admission.NewDecoder(mgr.GetScheme())}
	server := mgr.GetWebhookServer()
	server.Register(PromotionPath, &webhook.Admission{Handler: admission.HandlerFunc(v.promotion)})
	server.Register(FreightStatusPath, &webhook.Admission{Handler: admission.HandlerFunc(v.freightStatus)})
}

type validator struct {
	// client creates SubjectAccessReviews.
	client client.Client
	// reader reads Stages and Freight from the API server: the manager's
	// cache holds only the kinds its controllers watch.
	reader  client.Reader
	decoder admission.Decoder

	// self is the manager's own user, which alone records verifications;
	// learned from the API server on first need.
	selfMu sync.Mutex
	self   string
}

// promotion admits a Promotion's creation when its user may promote to
// its Stage and its Freight is eligible for the Stage.
func (v *validator) promotion(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	var p kargov1.Promotion
	if err := v.decoder.Decode(req, &p); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the Promotion: %w", err))
	}
	if resp, ok := v.mayPromote(ctx, req, p.Spec.Stage, "promote to Stage "+p.Spec.Stage); !ok {
		return resp
	}
	var stage kargov1.Stage
	if err := v.reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: p.Spec.Stage}, &stage); err != nil {
		return readFailure(err, "Stage", p.Spec.Stage, req.Namespace, "spec.stage")
	}
	var freight kargov1.Freight
	if err := v.reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: p.Spec.Freight}, &freight); err != nil {
		return readFailure(err, "Freight", p.Spec.Freight, req.Namespace, "spec.freight")
	}
	if err := promotion.Eligible(&stage, &freight); err != nil {
		return admission.Denied("spec.freight: " + err.Error())
	}
	return admission.Allowed("")
}

// freightStatus admits an update of Freight status when its user may
// promote to every Stage whose approval (status.approvedFor) it adds or
// re-signs, each signed by that user or by nobody, and when only the
// manager, which verifies, adds Stages to status.verifiedIn: a user who
// could write it would send Freight downstream unverified. Other changes
// (an approval or a verification withdrawn) pass.
func (v *validator) freightStatus(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	var oldFreight, newFreight kargov1.Freight
	if err := v.decoder.DecodeRaw(req.OldObject, &oldFreight); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the Freight before the update: %w", err))
	}
	if err := v.decoder.DecodeRaw(req.Object, &newFreight); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the Freight: %w", err))
	}
	user := req.UserInfo.Username
	if added := AddedVerifications(&oldFreight, &newFreight); len(added) > 0 {
		self, err := v.managerUser(ctx)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		if user != self {
			return admission.Denied(fmt.Sprintf("status.verifiedIn: user %q may not record Freight %s as verified in %s: the Kargo manager does, once verification passed; approve it instead (kargo approve)",
				user, newFreight.Name, strings.Join(added, ", ")))
		}
	}
	for _, r := range ChangedApprovals(&oldFreight, &newFreight) {
		if r.By != "" && r.By != user {
			return admission.Denied(fmt.Sprintf("status.approvedFor[stage=%s].by: %q is not the user who approves (%q): leave it empty or name yourself", r.Stage, r.By, user))
		}
		if resp, ok := v.mayPromote(ctx, req, r.Stage, fmt.Sprintf("approve Freight %s for Stage %s", newFreight.Name, r.Stage)); !ok {
			return resp
		}
	}
	return admission.Allowed("")
}

// managerUser is the user the manager acts as (its ServiceAccount in a
// cluster), as the API server tells it.
func (v *validator) managerUser(ctx context.Context) (string, error) {
	v.selfMu.Lock()
	defer v.selfMu.Unlock()
	if v.self == "" {
		review := &authenticationv1.SelfSubjectReview{}
		if err := v.client.Create(ctx, review); err != nil {
			return "", fmt.Errorf("ask the API server which user the manager is: %w", err)
		}
		v.self = review.Status.UserInfo.Username
	}
	return v.self, nil
}

// mayPromote asks the API server whether the request's user may promote
// to the Stage of the request's namespace; when not, or when it cannot
// tell, it returns the refusal, which says the user wanted to do what.
func (v *validator) mayPromote(ctx context.Context, req admission.Request, stage, what string) (admission.Response, bool) {
	review := PromoteReview(req.UserInfo, req.Namespace, stage)
	if err := v.client.Create(ctx, review); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("ask whether user %q may %s: %w", req.UserInfo.Username, what, err)), false
	}
	if !review.Status.Allowed {
		return admission.Denied(Refusal(req.UserInfo.Username, what, req.Namespace)), false
	}
	return admission.Response{}, true
}

// PromoteReview is the SubjectAccessReview of whether a user may promote
// to a Stage: the verb promote on stages/<stage> of swarm.kargo.io in the
// namespace, for the user with their groups, UID and extra attributes
// (the authorizer sees the user as the API server authenticated them).
func PromoteReview(user authenticationv1.UserInfo, namespace, stage string) *authorizationv1.SubjectAccessReview {
	var extra map[string]authorizationv1.ExtraValue
	if len(user.Extra) > 0 {
		extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	return &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace,
			Verb:      kargov1.PromoteVerb,
			Group:     kargov1.GroupVersion.Group,
			Resource:  "stages",
			Name:      stage,
		},
	}}
}

// Refusal is the message of a request refused for want of the promote
// verb: who, what they wanted, and which role grants it.
func Refusal(user, what, namespace string) string {
	return fmt.Sprintf("user %q may not %s: it takes the verb %s on stages in namespace %s (see the ClusterRole %s)",
		user, what, kargov1.PromoteVerb, namespace, promoterRole)
}

// ChangedApprovals lists the approvals (status.approvedFor) that updated
// adds, or whose signature (by) it changes, in its order.
func ChangedApprovals(old, updated *kargov1.Freight) []kargov1.FreightStageRecord {
	var changed []kargov1.FreightStageRecord
	for _, r := range updated.Status.ApprovedFor {
		i := slices.IndexFunc(old.Status.ApprovedFor, func(o kargov1.FreightStageRecord) bool { return o.Stage == r.Stage })
		if i < 0 || old.Status.ApprovedFor[i].By != r.By {
			changed = append(changed, r)
		}
	}
	return changed
}

// AddedVerifications lists the Stages that updated adds to
// status.verifiedIn, in its order.
func AddedVerifications(old, updated *kargov1.Freight) []string {
	var added []string
	for _, r := range updated.Status.VerifiedIn {
		if !old.IsVerifiedIn(r.Stage) {
			added = append(added, r.Stage)
		}
	}
	return added
}

// readFailure refuses a Promotion whose Stage or Freight cannot be read:
// missing, it names the field that points to it.
func readFailure(err error, kind, name, namespace, field string) admission.Response {
	if client.IgnoreNotFound(err) == nil {
		return admission.Denied(fmt.Sprintf("%s: %s %s not found in namespace %s", field, kind, name, namespace))
	}
	return admission.Errored(http.StatusInternalServerError, fmt.Errorf("read %s %s: %w", kind, name, err))
}
