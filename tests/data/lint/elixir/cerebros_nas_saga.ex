defmodule Thunderline.Thunderbolt.Sagas.CerebrosNASSaga do
  @moduledoc "NAS run: create the run, dispatch training, await it, persist the best model."
  use Reactor, extensions: [Reactor.Dsl]
  require Logger

  alias Thunderline.EventBus
  alias Thunderline.Thunderbolt.CerebrosBridge

  input :spec
  input :correlation_id
  input :causation_id

  step :dispatch_training do
    argument :run, result(:create_run)

    run fn %{run: run}, _ ->
      CerebrosBridge.Invoker.dispatch(run.id, run.spec)
    end

    compensate fn _jobs, _ ->
      # TODO: Cancel in-flight training jobs
      Logger.warning("Compensating: canceling training jobs")
      {:ok, :compensated}
    end
  end

  step :await_completion do
    argument :run_id, result(:create_run, [:id])

    run fn %{run_id: run_id}, _ ->
      await_training_completion(run_id, 300_000, 5_000)
    end
  end

  step :persist_version do
    argument :run, result(:create_run)
    argument :best_model, result(:await_completion)

    run fn %{run: run, best_model: best_model}, _ ->
      if best_model do
        # TODO: Create ModelVersion record
        Logger.info("Best model: #{best_model.id} (score: #{best_model.score})")
        {:ok, %{run: run, best_model: best_model}}
      else
        {:error, :no_model}
      end
    end
  end

  step :publish_completion do
    argument :run_id, result(:create_run, [:id])
    argument :correlation_id, input(:correlation_id)

    run fn %{run_id: run_id, correlation_id: correlation_id}, _ ->
      EventBus.publish_event(%{
        name: "ml.run.complete",
        source: :bolt,
        payload: %{run_id: run_id},
        correlation_id: correlation_id,
        causation_id: nil
      })
    end
  end

  defp await_training_completion(run_id, max_wait, poll_interval) do
    max_polls = div(max_wait, poll_interval)

    Stream.iterate(0, &(&1 + 1))
    |> Enum.reduce_while(nil, fn iteration, _acc ->
      case CerebrosBridge.Invoker.status(run_id) do
        {:ok, %{status: "completed"} = run} ->
          {:halt, {:ok, run}}

        {:ok, _running} when iteration < max_polls ->
          Process.sleep(poll_interval)
          {:cont, nil}

        _ ->
          {:halt, {:error, :timeout}}
      end
    end)
  end
end
