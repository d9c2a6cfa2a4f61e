"""`doctor`: every check, in the order a person fixes things (files, profiles, chains, topology,
cache, Kubernetes and ECR, clock), into one report. Everything but the clock check, the EKS
clusters' and Identity Center's online checks reads files only."""

import os
from typing import Mapping, Optional

from geodesic_stage.doctor import cache, chains, clock, kube, profiles, sso, topology
from geodesic_stage.doctor.findings import Report, from_exception, warning
from geodesic_stage.errors import StageError
from geodesic_stage.lifetimes import SSO_CHECK_MAX_SECONDS
from geodesic_stage.topology import profiles as topologies


def examine(context, environ: Mapping[str, str], declared_topology: Optional[str] = None, offline: bool = False,
            max_time: float = SSO_CHECK_MAX_SECONDS) -> Report:
    report = Report(findings=profiles.check_files(context.config_path, environ))
    if os.path.exists(context.config_path):
        try:
            report.stages, findings = profiles.find_stages(context, environ)
            report.findings += findings
            report.findings += sso.check_mixed(context.profiles)
        except StageError as e:
            report.findings.append(from_exception(e))
    sso_stages = {s: p for s, p in report.stages.items() if p.sso}
    if sso_stages:
        notes, findings = sso.check(sso_stages, offline, max_time)
        report.notes += notes
        report.findings += findings
    # The checks below are for role profiles; an Identity Center stage has none of their settings.
    stages = {s: p for s, p in report.stages.items() if not p.sso}
    if sso_stages and not stages:
        report.topology, report.topology_source = "sso", "every stage signs in to Identity Center"
    walked, source_findings = profiles.stage_chains(stages, context)
    report.findings += profiles.check_profiles(stages, context.profiles, walked)
    source_findings += profiles.check_sources(walked, context.profiles, report.hints)
    report.findings += source_findings
    if not source_findings:
        report.findings += chains.check_chains(stages, context.profiles, context.credentials, context.config_path)
    declared = declared_topology or context.stages.topology
    # The three topologies assume each stage's role straight from the user's keys. Through an identity
    # account's role, the users and their MFA devices live in that account: the chains say it all.
    via = sorted({link.profile for links in walked.values() for link in links.roles[:-1]})
    if via and not declared:
        report.topology, report.topology_source = "chained", f"through {', '.join(via)}; checked link by link"
    elif stages:
        report.topology = declared or topologies.infer(stages)
        if declared:
            report.topology_source = "from --topology" if declared_topology else f"from {context.stages.path}"
        root = topologies.root_account(stages, context.stages.root_account_id)
        report.findings += topology.check_topology(report.topology, stages, root)
    report.findings += cache.check_cache()
    clusters, findings = kube.stage_clusters(context, report.stages)
    report.findings += findings
    if clusters and not offline:
        report.findings += kube.check_clusters(context, clusters)
    report.findings += kube.check_user_kubeconfig(context, report.stages, clusters, environ)
    signer = next((p for p in stages.values() if p.source_profile), None)
    if not offline and signer and not source_findings:
        report.findings += clock.check_clock(signer, context)
    elif not offline and stages:
        report.findings.append(warning(
            "clock not checked against STS: no usable source keys to sign the call", "fix the source profile first"
        ))
    return report
