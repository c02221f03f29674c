//! Secrets the controller reads by name, and the grant that lets it.

/// The Role and RoleBinding README documents: the chart's ServiceAccount
/// (`AWSOPS_TEST_CHART_NAMESPACE`/awsops) may get Secret `name` in `namespace`.
pub async fn grant_secret(client: &kube::Client, namespace: &str, name: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let create = kube::api::PostParams::default();
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("awsops-read-{name}")},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": [name]}],
    }))
    .expect("role");
    kube::Api::<Role>::namespaced(client.clone(), namespace).create(&create, &role).await.expect("role created");
    let chart_namespace = std::env::var("AWSOPS_TEST_CHART_NAMESPACE").expect("set by make test");
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("awsops-read-{name}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("awsops-read-{name}")},
        "subjects": [{"kind": "ServiceAccount", "name": "awsops", "namespace": chart_namespace}],
    }))
    .expect("binding");
    kube::Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&create, &binding)
        .await
        .expect("binding created");
}
