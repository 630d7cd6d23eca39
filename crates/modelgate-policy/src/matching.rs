//! Assigning roles to distinct keys (bipartite matching).
//!
//! `approvals: {roles: [security, owner]}` needs one approval per role *by different keys*: a
//! key holding both roles must not satisfy both. Greedy assignment can fail where an assignment
//! exists (alice holds security and owner, bob only security), so this is a maximum matching
//! (Kuhn's augmenting paths; roles are capped at [`crate::MAX_ROLES`], keys at the evidence size).

/// The largest number of `wanted` roles that can be given to distinct candidates, where each
/// candidate `(id, roles)` may take one of the roles it lists (see [`assign`] for which).
pub(crate) fn max_matching<K>(wanted: &[&str], candidates: &[(K, Vec<&str>)]) -> usize {
    assign(wanted, candidates)
        .iter()
        .filter(|a| a.is_some())
        .count()
}

/// For each wanted role, the index of the candidate it is assigned to in a maximum matching.
pub(crate) fn assign<K>(wanted: &[&str], candidates: &[(K, Vec<&str>)]) -> Vec<Option<usize>> {
    let adj: Vec<Vec<usize>> = wanted
        .iter()
        .map(|role| {
            candidates
                .iter()
                .enumerate()
                .filter(|(_, (_, roles))| roles.contains(role))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; candidates.len()];
    for r in 0..wanted.len() {
        let mut seen = vec![false; candidates.len()];
        augment(r, &adj, &mut owner, &mut seen);
    }
    let mut out = vec![None; wanted.len()];
    for (c, o) in owner.iter().enumerate() {
        if let Some(r) = o {
            out[*r] = Some(c);
        }
    }
    out
}

fn augment(r: usize, adj: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &c in &adj[r] {
        if seen[c] {
            continue;
        }
        seen[c] = true;
        // Depth is bounded by the number of roles (≤ MAX_ROLES): each level takes another role.
        if owner[c].is_none_or(|other| augment(other, adj, owner, seen)) {
            owner[c] = Some(r);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_finds_assignment_greedy_would_miss() {
        let cands = vec![
            ("alice", vec!["security", "owner"]),
            ("bob", vec!["security"]),
        ];
        assert_eq!(max_matching(&["security", "owner"], &cands), 2);
        let a = assign(&["security", "owner"], &cands);
        assert_eq!(a, vec![Some(1), Some(0)]);
    }

    #[test]
    fn one_key_cannot_fill_two_roles() {
        let cands = vec![("alice", vec!["security", "owner"])];
        assert_eq!(max_matching(&["security", "owner"], &cands), 1);
        assert_eq!(max_matching::<&str>(&["security"], &[]), 0);
    }
}
