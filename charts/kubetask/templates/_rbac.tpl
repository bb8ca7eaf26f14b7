{{/*
The operator's rules on the namespaces it watches: exactly the verbs it uses on exactly the resources it
touches (tests/chart checks these against the operator's code). No wildcards.
*/}}
{{- define "kubetask.operatorRules" -}}
# TaskRuns: watched by kopf; patched for kopf's progress annotations; deleted after ttlSecondsAfterFinished.
- apiGroups: ["kubetask.dev"]
  resources: ["taskruns"]
  verbs: ["get", "list", "watch", "patch", "delete"]
# The status subresource is where the operator reports phases, attempts, outputs and errors.
- apiGroups: ["kubetask.dev"]
  resources: ["taskruns/status"]
  verbs: ["get", "patch"]
# One pod per attempt: created, watched, deleted on cancel and timeout.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete"]
# Inputs too large for a data: URI travel in a ConfigMap owned by the TaskRun.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create"]
# An Event on the TaskRun for every transition.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

