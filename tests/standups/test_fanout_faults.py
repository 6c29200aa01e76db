"""The standup fan-out bench, small: Tandem's process killed (SIGKILL) halfway through a fan-out whose
posts now and then are done by Slack with the reply lost; restarted, it gives everyone one prompt."""

from bench import standup_fanout


def test_a_fan_out_killed_halfway_with_lost_replies_prompts_everyone_once(database_url, apps_not_sending):
    result = standup_fanout.run(url=database_url, people=40, rate=25, burst=5, workers=2, lost=0.1, kill_at=0.5,
                                lease_seconds=3)  # 3 s: a live worker holds a row ~1 s at most here
    assert result["killed_after_posts"] is not None and result["replies_lost"] > 0
    assert (result["duplicates"], result["missing"]) == (0, 0)
