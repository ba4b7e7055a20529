"""100 episodes of a Gymnasium environment over ARL sandboxes; trains nothing, prints episodes/s.

    pip install -e 'sdk/python/arl-client[gym]'
    python examples/python/gym_episodes.py

Each episode gets a fresh sandbox holding a small task (task.txt: two numbers). A scripted
"agent" reads the task (step 1), writes a solution (step 2) and runs it (step 3); the reward
function pays 1 and ends the episode when the printed sum is right. Three environments run
side by side (SandboxVectorEnv), each reset taking a fresh sandbox from python-pool.
"""
import time

from arl_client.gym import SandboxVectorEnv

EPISODES = 100
NUM_ENVS = 3
answers = {}  # sandbox name -> the sum its task asks for


def setup(session, rng):
    a, b = (int(x) for x in rng.integers(0, 1000, size=2))
    session.write_file("task.txt", f"{a} {b}\n")
    answers[session.name] = a + b


def reward(t):
    if t.action.kind == "run" and t.action.command.startswith("python"):
        solved = t.result.stdout.strip() == str(answers[t.session.name])
        return (1.0 if solved else 0.0), solved
    return 0.0


def act(phase, stdout):
    """The scripted agent: what to do at this step of the episode, given the last stdout."""
    if phase == 0:
        return "cat task.txt"
    if phase == 1:
        a, b = stdout.split()
        return {"kind": "write", "path": "solve.py", "content": f"print({a} + {b})\n"}
    return "python solve.py"


envs = SandboxVectorEnv("python-pool", reward, num_envs=NUM_ENVS, namespace="default", max_steps=5,
                        setup_fn=setup)
started = time.monotonic()
obs, _ = envs.reset(seed=0)
phase = [0] * NUM_ENVS           # the step each env's episode is at; -1: it resets on the next step
episode_reward = [0.0] * NUM_ENVS
done = solved = steps = 0
total_reward = 0.0
while done < EPISODES:
    actions = [act(phase[i], obs["stdout"][i]) for i in range(NUM_ENVS)]
    obs, rewards, terminated, truncated, _ = envs.step(actions)
    for i in range(NUM_ENVS):
        if phase[i] < 0:  # next-step autoreset: this step gave env i a fresh sandbox, its action unused
            phase[i], episode_reward[i] = 0, 0.0
            continue
        phase[i] += 1
        episode_reward[i] += rewards[i]
        if (terminated[i] or truncated[i]) and done < EPISODES:  # envs ending together may overshoot
            done += 1
            solved += int(terminated[i])
            steps += phase[i]
            total_reward += episode_reward[i]
        if terminated[i] or truncated[i]:
            phase[i] = -1
envs.close()
elapsed = time.monotonic() - started

print(f"episodes: {done}")
print(f"solved: {solved}")
print(f"steps: {steps}")
print(f"mean reward: {total_reward / done:.2f}")
print(f"episodes/s: {done / elapsed:.2f} ({NUM_ENVS} environments, {elapsed:.1f} s)")
