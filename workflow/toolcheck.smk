# crboost check on the compute nodes: one tiny job per tool that exists only there (a tool with
# nodes_only: true), submitted through the project's profile with the resources of a job that
# calls the tool, so that it lands on the kind of node the real jobs get.
#
#   crboost check PROJECT --profile slurm     (runs this with --directory PROJECT/.crboost/check)
#
# config: project (its root), probes: {tool: {resource: value}}. Each job writes <tool>.json.
import sys


rule all:
    input:
        expand("{tool}.json", tool=config["probes"]),
    localrule: True


for tool, tool_resources in config["probes"].items():

    rule:
        name:
            f"probe_{tool}"
        output:
            f"{tool}.json",
        log:
            f"{tool}.log",
        resources:
            **tool_resources,
        params:
            # the Python running this workflow (crboost's environment, also on the nodes)
            python=sys.executable,
            project=config["project"],
            tool=tool,
        shell:
            "{params.python:q} -m crboost.running.toolprobe --project {params.project:q} "
            "--tool {params.tool} > {output:q} 2> {log:q}"
