/* Plotly in Korean: our own dictionary of the texts Plotly shows (tool bar, hover labels,
   notices) and its date and number formats, registered with Plotly and made every
   chart's default on a Korean page (<html lang="ko">). Served right after Plotly's own
   script (/assets/plotly.min.js) and inlined after it in the offline report. */
(function (global) {
  "use strict";
  const Plotly = global.Plotly;
  if (!Plotly || typeof Plotly.register !== "function") return;

  const MONTHS = ["1월", "2월", "3월", "4월", "5월", "6월", "7월", "8월", "9월", "10월", "11월", "12월"];
  const KOREAN = {
    moduleType: "locale",
    name: "ko",
    dictionary: {
      "Autoscale": "자동 범위",
      "Box Select": "사각형 선택",
      "Click to enter Colorscale title": "색 척도 제목 입력",
      "Click to enter Plot title": "차트 제목 입력",
      "Click to enter Plot subtitle": "차트 부제목 입력",
      "Click to enter X axis title": "가로축 제목 입력",
      "Click to enter Y axis title": "세로축 제목 입력",
      "Compare data on hover": "마우스를 올린 곳의 값 모두 보기",
      "Double-click on legend to isolate one trace": "범례를 두 번 누르면 그 계열만 보입니다",
      "Double-click to zoom back out": "두 번 누르면 원래 크기로 돌아갑니다",
      "Download plot": "차트 내려받기",
      "Download plot as a PNG": "차트를 그림(PNG)으로 내려받기",
      "Download plot as JSON": "차트 데이터 내려받기",
      "Draw circle": "원 그리기",
      "Draw closed freeform": "닫힌 자유형 그리기",
      "Draw line": "선 그리기",
      "Draw open freeform": "열린 자유형 그리기",
      "Draw rectangle": "사각형 그리기",
      "Erase active shape": "선택한 도형 지우기",
      "Lasso Select": "올가미 선택",
      "Pan": "이동",
      "Preparing image - this may take a few seconds": "그림을 만드는 중입니다. 몇 초 걸릴 수 있습니다",
      "Produced with Plotly.js": "Plotly.js로 만듦",
      "Reset": "초기화",
      "Reset axes": "축 초기화",
      "Reset view": "보기 초기화",
      "Reset views": "보기 초기화",
      "Share chart...": "차트 공유…",
      "Show closest data on hover": "마우스를 올린 곳의 가장 가까운 값 보기",
      "Snapshot succeeded": "그림을 만들었습니다",
      "Sorry, there was a problem downloading your image!": "그림을 내려받지 못했습니다.",
      "Sorry, there was a problem downloading your JSON file!": "데이터를 내려받지 못했습니다.",
      "Taking snapshot - this may take a few seconds": "그림을 만드는 중입니다. 몇 초 걸릴 수 있습니다",
      "Toggle Spike Lines": "보조선 켜기/끄기",
      "Toggle show closest data on hover": "가장 가까운 값 보기 켜기/끄기",
      "Zoom": "확대 영역 선택",
      "Zoom in": "확대",
      "Zoom out": "축소",
      "close:": "종가:",
      "high:": "고가:",
      "low:": "저가:",
      "open:": "시가:",
      "close": "종가",
      "high": "고가",
      "low": "저가",
      "open": "시가",
      "max:": "최대:",
      "mean:": "평균:",
      "median:": "중앙값:",
      "min:": "최소:",
      "new text": "새 글",
      "trace": "계열",
    },
    format: {
      days: ["일요일", "월요일", "화요일", "수요일", "목요일", "금요일", "토요일"],
      shortDays: ["일", "월", "화", "수", "목", "금", "토"],
      months: MONTHS,
      shortMonths: MONTHS,
      periods: ["오전", "오후"],
      dateTime: "%Y년 %-m월 %-d일 %a %X",
      date: "%Y. %-m. %-d.",
      time: "%H:%M:%S",
      decimal: ".",
      thousands: ",",
      grouping: [3],
      currency: ["₩", ""],
      year: "%Y년",
      month: "%Y년 %b",
      dayMonth: "%b %-d일",
      dayMonthYear: "%Y년 %b %-d일",
    },
  };

  Plotly.register(KOREAN);
  const lang = global.document && global.document.documentElement.lang;
  if (lang === "ko" && typeof Plotly.setPlotConfig === "function") Plotly.setPlotConfig({ locale: "ko" });
})(window);
