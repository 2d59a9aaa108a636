//! Editing a profile file in place (after an upgrade) without losing what a person wrote in it:
//! comments, order and spacing stay; only the one value changes.

/// `text` with `cluster.kubernetes_version` set to `version` (added to `[cluster]` when absent).
pub fn set_kubernetes_version(text: &str, version: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let cluster = doc
        .get_mut("cluster")
        .and_then(|c| c.as_table_like_mut())
        .ok_or("it has no [cluster] table")?;
    match cluster.get_mut("kubernetes_version") {
        Some(item) => {
            // Keep the comment and spacing around the old value.
            let decor = item.as_value().map(|v| v.decor().clone());
            let mut value = toml_edit::Value::from(version);
            if let Some(decor) = decor {
                *value.decor_mut() = decor;
            }
            *item = toml_edit::Item::Value(value);
        }
        None => {
            cluster.insert("kubernetes_version", toml_edit::value(version));
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_version_changes_and_comments_stay() {
        let text = "version = 1\n# Our team's cluster.\n[cluster]\nname = \"demo\"   # short\nkubernetes_version = \"1.34\"  # upgraded by eksboot\nregion = \"us-west-2\"\n\n[nodes]\n# cheap\ninstance_types = [\"t3.medium\"]\n";
        let updated = set_kubernetes_version(text, "1.35").unwrap();
        assert_eq!(updated, text.replace("\"1.34\"", "\"1.35\""));
    }

    #[test]
    fn a_profile_without_a_version_gets_one() {
        let text = "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n# end\n";
        let updated = set_kubernetes_version(text, "1.35").unwrap();
        assert!(
            updated.contains("kubernetes_version = \"1.35\""),
            "{updated}"
        );
        assert!(updated.contains("# end"), "{updated}");
        assert!(set_kubernetes_version("name = 1", "1.35").is_err());
    }
}
