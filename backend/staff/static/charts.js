/* Horizontal bar charts for the staff pages (the operator's dashboard, an event's plan and final account).
   The numbers come from the page's own <script type="application/json" id="chart-data"> block,
   {"unit": …, "charts": [{"element", "title", "categories", "series": [{"name", "values"}], "stacked"?}]} (stacked:
   the series are parts of one whole, drawn end to end in one bar per category; "columns": the categories run
   along the horizontal axis, as days do, in upright bars; "unit": this chart's own unit); the table beside each
   chart shows the same ones (and is all a browser without script sees). ECharts is the copy the app serves. */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || !window.echarts) {
    return;
  }
  var data = JSON.parse(block.textContent);
  if (!data) {
    return;
  }
  var colours = ["#9cc9b4", "#0b6e4f", "#e0a458", "#8a8f98"];
  // Every chart's box takes its place first: a chart drawn while its neighbour is still hidden would size itself
  // to the whole row, and overlap the neighbour once that one appears beside it.
  var placed = data.charts.map(function (chart) {
    var element = document.getElementById(chart.element);
    if (!element) {
      return null;
    }
    element.className += " drawn";
    var bars = chart.stacked ? 1 : chart.series.length;
    element.style.height = chart.columns ? "300px" : Math.max(220, 90 + chart.categories.length * 26 * bars) + "px";
    return {chart: chart, element: element};
  }).filter(Boolean);
  placed.forEach(function (place) {
    var chart = place.chart;
    var unit = chart.unit || data.unit;
    var categories = {type: "category", data: chart.categories};
    var plot = window.echarts.init(place.element, null, {renderer: "canvas"});
    plot.setOption({
      animation: false,
      color: chart.series.length > 1 ? colours : [colours[1]],
      title: {text: chart.title + "，" + unit, left: 0, textStyle: {fontSize: 14, fontWeight: "normal"}},
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, valueFormatter: function (value) {
        return value.toLocaleString("zh-CN", {maximumFractionDigits: 3}) + " " + unit;
      }},
      legend: {show: chart.series.length > 1, top: 24, left: 0},
      grid: {left: 8, right: 48, top: chart.series.length > 1 ? 56 : 34, bottom: 8, containLabel: true},
      xAxis: chart.columns ? categories : {type: "value"},
      yAxis: chart.columns ? {type: "value", minInterval: 1} : Object.assign(categories, {inverse: true}),
      series: chart.series.map(function (series) {
        return {type: "bar", name: series.name, data: series.values, barMaxWidth: chart.columns ? 10 : 18,
                stack: chart.stacked ? "whole" : undefined,
                label: {show: !chart.stacked && !chart.columns, position: "right", fontSize: 11}};
      })
    });
    window.addEventListener("resize", function () { plot.resize(); });
  });
}());
